"""The HTTP service and command line of zhengce-qa.

Import from the modules (``server.app.create_app``, ``server.settings.Settings``): this package
imports nothing itself, so ``zhengce --help`` and usage errors stay fast.
"""
