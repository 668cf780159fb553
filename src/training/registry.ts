/**
 * Which ER trainer trains which model: the optimizer binds one when the
 * model is compiled with `er()`; the model hooks look it up.
 */
import {EpochTrainer} from './trainer';

/** A model's trainer and when it applies updates. */
export interface Binding {
  trainer: EpochTrainer;
  /** 'epoch': one update per epoch; 'batch': one per batch. */
  update: 'epoch'|'batch';
}

const bindings = new WeakMap<object, Binding>();

/** The trainer bound to a model. */
export function bindingOf(model: object): Binding|undefined {
  return bindings.get(model);
}

/** Binds `binding` to `model`, disposing the trainer bound before (a recompiled model). */
export function bind(model: object, binding: Binding): void {
  const old = bindings.get(model);
  if (old != null && old.trainer !== binding.trainer) old.trainer.dispose();
  bindings.set(model, binding);
}

/** Unbinds `trainer` from `model` if it is the bound one, disposing it. */
export function unbind(model: object, trainer?: EpochTrainer): void {
  const old = bindings.get(model);
  if (old != null && (trainer == null || old.trainer === trainer)) {
    bindings.delete(model);
    old.trainer.dispose();
  }
}
