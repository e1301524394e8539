"""The in-container agent (``agent.py``): a standalone standard-library script bind-mounted into every container.

It is never imported by the platform; ``lamina.executor.images.agent_dir()`` gives the directory to mount.
"""
