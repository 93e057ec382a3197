// The polyfill lives with the local runner (local/asl); tests load the same one.
import '../../local/asl/polyfills';
export {};
