// Vite's `?url` imports (the pdf.js worker): the bundled asset's URL as a string.
declare module '*?url' {
  const url: string;
  export default url;
}
