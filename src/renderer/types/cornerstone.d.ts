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
    getPixelData(): ArrayLike<number>;
    /** The dicom-parser DataSet the WADO image loader decoded the image from. */
    data?: { string(tag: string): string | undefined; intString?(tag: string): number | undefined; floatString?(tag: string): number | undefined };
    /** Decoded bytes, as counted by the image cache. */
    sizeInBytes?: number;
    /** The WADO loader's: releases the parsed data set it keeps per file (images loaded outside the cache call it themselves). */
    decache?(): void;
    /** Ours: a rendered preview standing in for the instance (viewer/cornerstone-setup.ts), never measured on. */
    preview?: boolean;
  }
  export interface CornerstoneEvents {
    IMAGE_RENDERED: string;
    NEW_IMAGE: string;
  }
  interface Cornerstone {
    enable(element: HTMLElement, options?: Record<string, unknown>): void;
    disable(element: HTMLElement): void;
    loadAndCacheImage(imageId: string): Promise<Image>;
    /** Loads and decodes without keeping the result in the image cache (the quality checks' one-off reads). */
    loadImage(imageId: string): Promise<Image>;
    displayImage(element: HTMLElement, image: Image, viewport?: Partial<Viewport>): void;
    getViewport(element: HTMLElement): Viewport | undefined;
    setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
    resize(element: HTMLElement, forceFitToWindow?: boolean): void;
    reset(element: HTMLElement): void;
    getImage(element: HTMLElement): Image | undefined;
    /** Paints an image on a plain canvas with its default viewport (the series thumbnails). */
    renderToCanvas(canvas: HTMLCanvasElement, image: Image): void;
    updateImage(element: HTMLElement): void;
    imageCache: { purgeCache(): void; setMaximumSizeBytes(bytes: number): void; removeImageLoadObject(imageId: string): void };
    registerImageLoader(scheme: string, loader: (imageId: string) => { promise: Promise<Image> }): void;
    /** The viewport an image gets by default on `element` (fit to the canvas, the image's own window). */
    getDefaultViewportForImage(element: HTMLElement, image: Image): Viewport;
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

declare module 'cornerstone-math' {
  const cornerstoneMath: unknown;
  export default cornerstoneMath;
}

declare module 'hammerjs' {
  const Hammer: unknown;
  export default Hammer;
}

/** The slice of cornerstone-tools 6 this app uses. */
declare module 'cornerstone-tools' {
  export type ToolClass = abstract new (...args: never[]) => unknown;
  export interface MeasurementData {
    uuid?: string;
    visible?: boolean;
    active?: boolean;
    invalidated?: boolean;
    handles: Record<string, unknown>;
    [key: string]: unknown;
  }
  export interface ToolStateManager {
    clearImageIdToolState(imageId: string): void;
    restoreToolState(state: Record<string, unknown>): void;
  }
  interface CornerstoneTools {
    external: { cornerstone: unknown; cornerstoneMath: unknown; Hammer: unknown };
    init(config?: Record<string, unknown>): void;
    addTool(tool: ToolClass, config?: Record<string, unknown>): void;
    setToolActive(name: string, options: { mouseButtonMask: number }): void;
    setToolPassive(name: string): void;
    addToolState(element: HTMLElement, toolName: string, data: MeasurementData): void;
    removeToolState(element: HTMLElement, toolName: string, data: MeasurementData): void;
    getToolState(element: HTMLElement, toolName: string): { data: MeasurementData[] } | undefined;
    globalImageIdSpecificToolStateManager: ToolStateManager;
    LengthTool: ToolClass;
    EllipticalRoiTool: ToolClass;
    RectangleRoiTool: ToolClass;
    AngleTool: ToolClass;
    ProbeTool: ToolClass;
    EVENTS: { MEASUREMENT_COMPLETED: string; MEASUREMENT_MODIFIED: string; MEASUREMENT_REMOVED: string };
  }
  const cornerstoneTools: CornerstoneTools;
  export default cornerstoneTools;
}
