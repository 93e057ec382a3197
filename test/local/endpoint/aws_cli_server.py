# The AWS CLI (v1) kept running for the tests: reads one JSON request per line on stdin,
# {"args": [...], "env": {...}}, runs exactly what the `aws` script runs
# (awscli.clidriver: a new driver, hence a new botocore session, for each command) with that
# environment, and answers one JSON line {"code", "stdout", "stderr"}. Starting Python and
# importing botocore costs most of a second of CPU per command; here it is paid once per test
# process. Exits when stdin closes.
import io
import json
import os
import sys

# As the `aws` script does before importing the CLI.
if os.environ.get('LC_CTYPE', '') == 'UTF-8':
    os.environ['LC_CTYPE'] = 'en_US.UTF-8'

import awscli.clidriver  # noqa: E402

# Importing awscli points botocore at the CLI's own data (AWS_DATA_PATH); each command's
# environment keeps that, as it would in a new `aws` process.
CLI_DATA_PATH = os.environ['AWS_DATA_PATH']
protocol = sys.stdout


def captured():
    """A text stream with a binary buffer underneath, as sys.stdout has."""
    return io.TextIOWrapper(io.BytesIO(), encoding='utf-8', newline='')


def text_of(stream):
    stream.flush()
    return stream.buffer.getvalue().decode('utf-8', errors='replace')


def run(args, env):
    os.environ.clear()
    os.environ.update(env)
    os.environ['AWS_DATA_PATH'] = CLI_DATA_PATH
    out, err = captured(), captured()
    sys.stdout, sys.stderr = out, err
    try:
        # awscli.clidriver.main() with the arguments given instead of sys.argv.
        code = awscli.clidriver.create_clidriver().main(args)
        awscli.clidriver.HISTORY_RECORDER.record('CLI_RC', code, 'CLI')
    except SystemExit as exit_:
        # argparse and a few commands exit rather than return; `aws` would exit the same way.
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        sys.stdout, sys.stderr = protocol, sys.__stderr__
    return {'code': code, 'stdout': text_of(out), 'stderr': text_of(err)}


for line in sys.stdin:
    request = json.loads(line)
    protocol.write(json.dumps(run(request['args'], request['env'])) + '\n')
    protocol.flush()
