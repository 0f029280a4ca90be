import Link from "next/link";
import { headers } from "next/headers";
import { quotes } from "../lib/quotes";

// Rendered on the server for every request (not at build time): each page shows the Lambda
// request id that lambda-adapter passed in x-amzn-lambda-context.
export const dynamic = "force-dynamic";

export default async function Home() {
  const context = JSON.parse((await headers()).get("x-amzn-lambda-context") || "{}");
  return (
    <main>
      <h1>Quotes</h1>
      <ul>
        {quotes.map((quote) => (
          <li key={quote.id}>
            <Link href={`/quotes/${quote.id}`}>{quote.text}</Link>
          </li>
        ))}
      </ul>
      <p id="request">Rendered for request {context.request_id || "(none)"}</p>
    </main>
  );
}
