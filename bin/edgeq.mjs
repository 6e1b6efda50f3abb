#!/usr/bin/env node
// The edgeq CLI: `npx edgeq --help`. Plain JavaScript, so it runs as it is,
// with no build step, on the project's Node 22 under npx and on Node 20.
import { main } from "../cli/main.mjs";

process.exitCode = await main(process.argv.slice(2));
