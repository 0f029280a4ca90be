import { addQuote, quotes } from "../../../lib/quotes";

export const dynamic = "force-dynamic";

export function GET() {
  return Response.json(quotes);
}

export async function POST(request) {
  const body = await request.json().catch(() => ({}));
  if (typeof body.text !== "string" || !body.text.trim()) {
    return Response.json({ error: 'send {"text": "...", "by": "..."}' }, { status: 400 });
  }
  return Response.json(addQuote(body.text, body.by || "anonymous"), { status: 201 });
}
