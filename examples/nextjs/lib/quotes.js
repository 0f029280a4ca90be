// The app's data: in memory, shared by the pages and the API route.
export const quotes = [
  { id: 1, text: "Make it work, make it right, make it fast.", by: "Kent Beck" },
  { id: 2, text: "Simplicity is prerequisite for reliability.", by: "Edsger W. Dijkstra" },
];

export function findQuote(id) {
  return quotes.find((quote) => quote.id === Number(id));
}

export function addQuote(text, by) {
  const quote = { id: quotes.length + 1, text, by };
  quotes.push(quote);
  return quote;
}
