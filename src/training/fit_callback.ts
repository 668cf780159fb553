/**
 * A callback tfjs adds to every `fit` / `fitDataset` (registered with
 * `tf.registerCallbackConstructor`): it tells an ER controller where epochs
 * begin and end. It does nothing for models not trained by ER.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import {controllerOf, TrainingController} from './registry';

class ERFitHooks extends tfl.Callback {
  private controller(): TrainingController|undefined {
    return this.model ? controllerOf(this.model) : undefined;
  }

  async onTrainBegin(): Promise<void> {
    // tslint:disable-next-line:no-any
    this.controller()?.beginFit(this.params as any);
  }

  async onEpochBegin(): Promise<void> {
    this.controller()?.beginEpoch();
  }

  async onEpochEnd(): Promise<void> {
    this.controller()?.endEpoch();
  }

  async onTrainEnd(): Promise<void> {
    this.controller()?.endFit();
  }
}

let registered = false;

/** Registers the hooks once (verbosity level 0: present in every fit). */
export function registerFitHooks(): void {
  if (registered) return;
  registered = true;
  tfl.registerCallbackConstructor(0, ERFitHooks);
}
