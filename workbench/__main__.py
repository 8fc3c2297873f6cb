from workbench.cli.main import entry

# Guarded: multiprocessing's spawn start method imports __main__ as __mp_main__ in children.
if __name__ == "__main__":
    entry()
