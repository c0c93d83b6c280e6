// Test-wide setup: the same polyfills the node's entry file loads.
import "../node/polyfills.js";
