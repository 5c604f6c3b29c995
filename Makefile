# make demo  - install into .venv and build a project from the bundled sample data
# make test  - install into .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DB ?= demo.duckdb
PP     := $(BIN)/pypersonalize --db $(DEMO_DB)
VOD    := data/video_on_demand
ARN    := arn:aws:personalize:local:000000000000:solution

.PHONY: install demo test bench bench-scale lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(PP) dataset-group create movies --domain VIDEO_ON_DEMAND
	$(PP) schema create movie-interactions --domain VIDEO_ON_DEMAND --schema $(VOD)/interactions.schema.json
	$(PP) schema create movie-items --domain VIDEO_ON_DEMAND --schema $(VOD)/items.schema.json
	$(PP) schema create movie-users --domain VIDEO_ON_DEMAND --schema $(VOD)/users.schema.json
	$(PP) dataset create movies-interactions --dataset-group movies --type Interactions --schema movie-interactions
	$(PP) dataset create movies-items --dataset-group movies --type Items --schema movie-items
	$(PP) dataset create movies-users --dataset-group movies --type Users --schema movie-users
	$(PP) dataset import Interactions $(VOD)/interactions.csv --dataset-group movies
	$(PP) dataset import Items $(VOD)/items.csv --dataset-group movies
	$(PP) dataset import Users $(VOD)/users.csv --dataset-group movies
	$(PP) dataset-group describe movies
	$(PP) recommender create most-popular --dataset-group movies --use-case "Most popular"
	$(PP) recommender create because-you-watched --dataset-group movies --use-case "Because you watched X"
	@echo "== Most popular, for user u1"
	$(PP) recommend --recommender most-popular --user-id u1 -n 5
	@echo "== Because you watched m114, for user u1 (titles u1 watched are left out)"
	$(PP) recommend --recommender because-you-watched --user-id u1 --item-id m114 -n 5
	@echo "== The same from plain SQL"
	$(PP) sql "SELECT * FROM pp_recommend('because-you-watched', user_id := 'u1', item_id := 'm114', n := 5)"
	$(PP) recommender create top-picks --dataset-group movies --use-case "Top picks for you"
	@echo "== Top picks for you, for user u1 (exploration slots are marked; --seed makes them reproducible)"
	$(PP) recommend --recommender top-picks --user-id u1 -n 8 --seed 1
	@echo "== Its offline metrics, taken at training time on held-out users (Personalize's names)"
	$(PP) solution-version metrics top-picks/1
	@echo "== u1 watches three documentaries (put-events: appended at once, no retraining)"
	$(PP) put-events --dataset-group movies --user-id u1 --session-id demo \
		--event '{"eventType": "Watch", "itemId": "m570", "sentAt": 1735700000}' \
		--event '{"eventType": "Watch", "itemId": "m367", "sentAt": 1735700600}' \
		--event '{"eventType": "Watch", "itemId": "m176", "sentAt": 1735701200}'
	@echo "== Top picks for you, for user u1, right after"
	$(PP) recommend --recommender top-picks --user-id u1 -n 8 --seed 1
	@echo "== Its offline metrics, taken at training time on held-out users (Personalize's names)"
	$(PP) solution-version metrics top-picks/1
	@echo "== A batch inference job: top 5 for the first 100 users, as Personalize's JSON lines"
	$(PP) solution create personal --dataset-group movies --recipe aws-user-personalization
	$(PP) solution-version create personal
	rm -rf demo-batch
	$(PP) batch-inference create nightly --solution-version $(ARN)/personal/1 --num-results 5 \
		--query "SELECT USER_ID AS userId FROM movies.users ORDER BY USER_ID LIMIT 100" --output demo-batch/recs/
	head -n 2 demo-batch/recs/query.out
	@echo "== A batch segment job: the 5 users most likely to watch Comedy"
	$(PP) solution create comedy-fans --dataset-group movies --recipe aws-item-attribute-affinity
	$(PP) solution-version create comedy-fans
	$(PP) batch-segment create comedy --solution-version $(ARN)/comedy-fans/1 --num-results 5 \
		--query "SELECT 'ITEMS.GENRES = \"Comedy\"' AS itemAttributes" --output demo-batch/segments/
	cat demo-batch/segments/query.out
	@echo
	@echo "Project file: $(DEMO_DB). Try: $(BIN)/pypersonalize --db $(DEMO_DB) sql \"SELECT EVENT_TYPE, count(*) FROM movies.interactions GROUP BY 1\""

# one worker per core, each test file on one worker (its module fixtures are built once)
test: install
	$(BIN)/python -m pytest -q -n $(or $(TEST_WORKERS),2) --dist loadfile

bench: install
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/run.py

# not in CI: hours at 25M; the results accumulate in benchmarks/scale_results.json
bench-scale: install
	$(BIN)/python benchmarks/scale.py $(SCALE_ARGS)

lint: install
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check pypersonalize tests benchmarks data

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).wal .pytest_cache build dist *.egg-info
