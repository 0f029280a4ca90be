import { notFound } from "next/navigation";
import { findQuote } from "../../../lib/quotes";

export const dynamic = "force-dynamic";

export default async function QuotePage({ params }) {
  const quote = findQuote((await params).id);
  if (!quote) notFound();
  return (
    <main>
      <blockquote>{quote.text}</blockquote>
      <p>— {quote.by}</p>
    </main>
  );
}
