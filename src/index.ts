/**
 * tfjs-er: Expectation Reflection training for TensorFlow.js.
 * @packageDocumentation
 */
export * from './engine/index';
export {version} from './version';
