// Browser test entry (karma + esbuild): one bundle, so one tfjs instance.
// setup must come first (imports are evaluated in order).
import './setup';
import '../reflect.spec';
import '../spd.spec';
import '../tridiagonal.spec';
import '../band.spec';
import '../band_refine.spec';
import '../window.spec';
import '../ridge.spec';
import '../preimage.spec';
import '../sweep.spec';
import '../forward_cache.spec';
import '../optimizer.spec';
import '../attach.spec';
import '../head.spec';
import '../conv.spec';
import '../er_conv2d.spec';
import '../parity.spec';
import '../reduce.spec';
import '../data_init.spec';
import '../hardening.spec';
import './web_workers.spec';
