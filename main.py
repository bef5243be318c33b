"""Entry point equivalent to the `passivx` console script: `python3 main.py [COMMAND] ...`."""
from passivx.cli import main

if __name__ == "__main__":
    main()
