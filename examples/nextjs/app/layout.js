export const metadata = { title: "Quotes", description: "Next.js on Lambda behind lambda-adapter" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
