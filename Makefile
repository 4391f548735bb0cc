# The README's two commands. Everything is in config/stack.sh so CI and people run the same steps.
.PHONY: run test bench bench-national loadtest lint send-notice

run:
	@bash config/stack.sh run

test:
	@bash config/stack.sh test $(PYTEST_ARGS)

# Caseload and plan page time against the SQL floor at 12 000 and 120 000 synthetic patients, MedCom
# ingest (10 000 messages, 4 clients) at 12 000, the outbox sweep, printable plans (PDF render against bare
# WeasyPrint, documents per minute), the quality summary refresh and dashboard (FF_BENCH_QUALITY_PATIENTS).
# A quick run: FF_BENCH_SIZES=2000 FF_BENCH_INGEST_MESSAGES=500
# FF_BENCH_OUTBOX_ROWS=2000 FF_BENCH_DOCUMENT_TASKS=50 FF_BENCH_DOCUMENT_REPEAT=1 FF_BENCH_DOCUMENTS=8
# FF_BENCH_QUALITY_PATIENTS=2000 make bench.
bench:
	@bash config/stack.sh bench

# The pages that must stay flat (caseload, plan, worklist, access logs, portal, quality dashboard) at 12 000
# and 1.2 million synthetic patients, each beside its SQL floor (docs/scaling.md). Hours the first time; the
# data set is kept in .var/bench-national and a stopped run goes on. A quick run:
# FF_BENCH_NATIONAL_SIZES="1000 5000" make bench-national.
bench-national:
	@bash config/stack.sh bench-national

# Signed-in users (locust) against gunicorn on loopback over 12 000 synthetic patients: throughput and
# p50/p95 of the plan page, caseload and portal page beside a bare Django view at 1, 4 and 16 users, and the
# memory per web and Celery worker. About 8 minutes. A quick run: FF_LOADTEST_PATIENTS=1000
# FF_LOADTEST_SECONDS=5 make loadtest.
loadtest:
	@bash config/stack.sh loadtest

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .

# One of the demo's MedCom hospital notices (pathways/medcom_examples/) to the server `make run` started:
# make send-notice NAME=kirsten-discharge (make send-notice ARGS=--list names them).
send-notice:
	@bash config/stack.sh send $(NAME) $(ARGS)
