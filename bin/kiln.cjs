#!/usr/bin/env node
// kiln's executable. Deliberately ES5 and CommonJS: it must parse on any Node, so that an old one
// says what is wrong ("kiln needs Node >= 24") instead of failing with a SyntaxError deep inside
// kiln's modern code. Only then is the real entry point (an ES module) loaded.
'use strict';
var found = process.versions.node;
if (Number(found.split('.')[0]) < 24) {
  process.stderr.write(
    'kiln: error: kiln needs Node >= 24 (found ' + found + ' at ' + process.execPath + ')\n' +
      '  hint: install Node 24 LTS (https://nodejs.org, or `nvm install 24`) and put it first on PATH\n'
  );
  process.exit(1);
}
var path = require('path');
var url = require('url');
var main = url.pathToFileURL(path.join(__dirname, '..', 'dist', 'cli', 'main.js')).href;
// `import()` is written through Function so that this file stays ES5 to older parsers.
new Function('u', 'return import(u)')(main).catch(function (e) {
  process.stderr.write('kiln: error: cannot start: ' + (e && e.stack ? e.stack : e) + '\n');
  process.exitCode = 1;
});
