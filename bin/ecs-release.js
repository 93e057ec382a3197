#!/usr/bin/env node
// The `ecs-release` command: runs cli/main.ts through tsx, so the CLI ships as TypeScript with
// no build step. `ecs-release --help` lists the commands, options and exit codes.
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: tsx must be registered before the TypeScript loads */
'use strict';

// The SDK warns on every run that its support for Node 20 ends; for a CLI that is noise on
// stderr, where errors are promised to be one line. An explicit setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

require('tsx/cjs');
require('../cli/main.ts')
  .main()
  .catch((error) => {
    // run() turns every failure into one line and an exit code; this only catches a crash of main itself.
    process.stderr.write(`ecs-release: unexpected failure: ${error && error.message ? error.message : error} — run again with --debug\n`);
    process.exitCode = 4;
  });
