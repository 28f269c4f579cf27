// The Emscripten factory of CharLS's WASM build (CommonJS, no typings of its own).
declare module '@cornerstonejs/codec-charls/wasmjs' {
  const factory: (options?: { locateFile?(path: string, prefix: string): string }) => Promise<unknown>;
  export default factory;
}
