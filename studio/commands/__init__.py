"""The CLI's sub-commands, one module per command group; each defines ``add_commands(sub, common)``.
They call ``studio.api.Studio`` only: no command reaches into a pipeline or a recognizer."""
