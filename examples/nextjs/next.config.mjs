// output: "standalone" puts the server and only the node_modules it needs into .next/standalone,
// which is what goes into the image or the zip.
const config = { output: "standalone", poweredByHeader: false };
export default config;
