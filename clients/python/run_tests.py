"""Runs the Python client's tests (``unittest`` discovery under tests/) and prints the totals,
machine-readable, as the last line: ``python: N passed, N failed``. With ``--json FILE`` it
also writes ``{"passed", "failed", "errors", "skipped"}``. Exits non-zero when any failed.

    python3 clients/python/run_tests.py [--json FILE] [-k PATTERN]
"""

import argparse
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", help="write the totals to this file")
    parser.add_argument("-k", dest="pattern", help="only tests whose name contains this")
    args = parser.parse_args()
    tests_dir = os.path.join(HERE, "tests")
    sys.path.insert(0, tests_dir)
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [f"*{args.pattern}*"]
    suite = loader.discover(tests_dir, top_level_dir=tests_dir)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    totals = {"passed": passed, "failed": failed, "errors": len(result.errors), "skipped": skipped}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(totals, handle)
    print(f"python: {passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
