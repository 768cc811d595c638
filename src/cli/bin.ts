/** The `ai2ai` command (package.json `bin`, bundled as dist/cli.js). */
import { main } from './main';

void main(process.argv.slice(2)).then(code => process.exit(code));
