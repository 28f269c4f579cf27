/**
 * Sandboxed preload: exposes `window.telerad = {host, invoke}` and nothing
 * else. ipcRenderer itself is never handed to the page.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createTeleradBridge } from './bridge';

contextBridge.exposeInMainWorld('telerad', createTeleradBridge((channel, payload) => ipcRenderer.invoke(channel, payload)));
