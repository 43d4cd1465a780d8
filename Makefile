# lendkit: the two commands a new user runs are `make demo` and `make test`.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
LENDKIT := $(VENV)/bin/lendkit
HOST    ?= 127.0.0.1
PORT    ?= 5000
# A Luhn-valid settlement card for the demo platforms' sandbox bank accounts.
DEMO_PLATFORM_CARD ?= 6222020000000000018
PYTEST_ARGS ?= -n 2 --durations=10

.PHONY: demo test install translations messages browser-deps clean-demo

$(PY):
	$(PYTHON) -m venv $(VENV)

# Installs lendkit (editable, with the dev extra) whenever setup.cfg changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed translations

# Compiled catalogs (.mo) are built from the .po files on every install.
translations: $(VENV)/.installed
	@$(VENV)/bin/pybabel compile -d core/translations >/dev/null
	@for d in tenants/*/translations; do if [ -d "$$d" ]; then $(VENV)/bin/pybabel compile -d "$$d" >/dev/null; fi; done

# Re-extract strings after changing code or templates, then translate the new ones in the .po files.
messages: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o core/translations/messages.pot .
	$(VENV)/bin/pybabel update -i core/translations/messages.pot -d core/translations

demo: install
	$(LENDKIT) db upgrade
	$(LENDKIT) tenant sync
	$(LENDKIT) custody open-platform --tenant demo-cn --card $(DEMO_PLATFORM_CARD)
	$(LENDKIT) custody open-platform --tenant demo-en --card $(DEMO_PLATFORM_CARD)
	$(LENDKIT) tenant seed
	@echo
	@echo "  lendkit demo tenants:"
	@echo "    http://demo-cn.localhost:$(PORT)   (鑫源普惠, zh_CN)"
	@echo "    http://demo-en.localhost:$(PORT)   (Harbor Lending, en)"
	@echo
	$(LENDKIT) run --host $(HOST) --port $(PORT)

clean-demo:
	rm -rf instance

# Chromium and a CJK font for the browser tests, from Debian's packages.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; then \
	  echo "chromium and a CJK font are installed"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null ) \
	    || echo "could not install chromium; browser tests will be skipped (CI=true makes that a failure)"; \
	fi

test: install browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)
