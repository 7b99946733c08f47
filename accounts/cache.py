"""Cache keys that always carry the workspace, so tenants never share a cached value."""

from accounts.scope import WorkspaceScopeError, active_workspace_id


def workspace_cache_key(name: str, *parts: object) -> str:
    """Build `ws:<workspace id>:<name>:<parts…>` for the workspace in scope."""
    workspace_id = active_workspace_id()
    if workspace_id is None:
        raise WorkspaceScopeError(
            f"Cache key {name!r} needs a workspace scope, so that workspaces never share it."
        )
    return ":".join(["ws", str(workspace_id), name, *(str(part) for part in parts)])
