// Development entry for karma (ER_KARMA_ENTRY=test/dev/ww_entry.ts): the Web Worker specs alone.
import '../browser/setup';
import '../browser/web_workers.spec';
