/**
 * The slice of cornerstone-core 2.6 and cornerstone-wado-image-loader 4.13
 * this app uses. Neither package ships typings; declaring only what is called
 * keeps the compiler honest about everything else.
 */
declare module 'cornerstone-core' {
  export interface VOI {
    windowWidth: number;
    windowCenter: number;
  }
  export interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: VOI;
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
  }
  export interface Image {
    imageId: string;
    rows: number;
    columns: number;
    windowCenter?: number | number[];
    windowWidth?: number | number[];
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    color: boolean;
  }
  export interface CornerstoneEvents {
    IMAGE_RENDERED: string;
    NEW_IMAGE: string;
  }
  interface Cornerstone {
    enable(element: HTMLElement, options?: Record<string, unknown>): void;
    disable(element: HTMLElement): void;
    loadAndCacheImage(imageId: string): Promise<Image>;
    displayImage(element: HTMLElement, image: Image, viewport?: Partial<Viewport>): void;
    getViewport(element: HTMLElement): Viewport | undefined;
    setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
    resize(element: HTMLElement, forceFitToWindow?: boolean): void;
    reset(element: HTMLElement): void;
    imageCache: { purgeCache(): void };
    EVENTS: CornerstoneEvents;
  }
  const cornerstone: Cornerstone;
  export default cornerstone;
}

declare module 'cornerstone-wado-image-loader' {
  export interface WebWorkerManagerConfig {
    maxWebWorkers: number;
    startWebWorkersOnDemand?: boolean;
    taskConfiguration?: {
      decodeTask?: { initializeCodecsOnStartup?: boolean; strict?: boolean };
    };
  }
  interface WADOImageLoader {
    external: { cornerstone: unknown; dicomParser: unknown };
    webWorkerManager: {
      initialize(config: WebWorkerManagerConfig): void;
      terminate(): void;
    };
    wadouri: {
      fileManager: {
        /** Registers a file and returns its imageId, `dicomfile:<n>`. */
        add(file: Blob): string;
        get(index: number): Blob | undefined;
        remove(index: number): void;
        purge(): void;
      };
    };
  }
  const loader: WADOImageLoader;
  export default loader;
}
