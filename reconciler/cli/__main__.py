"""`python -m reconciler.cli …` runs the command line."""
from reconciler.cli import main

if __name__ == "__main__":
    main()
