// A Redis worker process for the specs (test/helpers/redis.ts): the library
// call serveRedisWorker on the cpu backend, printing each job event as JSON.
//   tsx test/helpers/redis_worker_main.ts URL QUEUE LOCK_SECONDS [PROTOCOL_VERSION]
import * as tf from '@tensorflow/tfjs';
import {serveRedisWorker} from '../../src/node/index';

async function main() {
  const [url, queue, lock, version] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const worker = serveRedisWorker({
    connection: url, queue, lockSeconds: Number(lock), protocolVersion: version || undefined,
    onJob: e => console.log(JSON.stringify(e)),
  });
  await worker.ready();
  console.log(JSON.stringify({phase: 'ready'}));
  process.on('SIGTERM', () => {
    worker.close().then(() => {
      console.log(JSON.stringify({phase: 'closed', tensors: tf.memory().numTensors}));
      process.exit(0);
    }, () => process.exit(1));
  });
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
