"""The lifespan protocol, as a TestClient ``with`` block drives it: startup, then shutdown."""

from __future__ import annotations

from .calls import Conversation


class Lifespan(Conversation):
    """The app's lifespan call: one task for the whole block, startup and shutdown inside it."""

    async def startup(self) -> None:
        """Ask the app to start; raise if it fails (an app that just returns is tolerated)."""
        await self._step("startup")

    async def shutdown(self) -> None:
        """Ask the app to shut down and let it finish; raise what went wrong."""
        if self.done:
            self.raise_unreported()
        else:
            await self._step("shutdown")

    async def _step(self, phase: str) -> None:
        self.deliver({"type": f"lifespan.{phase}"})
        expected = f"'lifespan.{phase}.complete' or 'lifespan.{phase}.failed'"
        reply = await self.next_message(expected)
        if reply is None:
            # Returned without taking part: the app does not speak lifespan (or crashed).
            self.raise_unreported()
            return
        outcome = {f"lifespan.{phase}.complete": True, f"lifespan.{phase}.failed": False}
        succeeded = outcome.get(reply["type"])
        if succeeded is None:
            raise RuntimeError(f"Expected ASGI message {expected}, but got {reply['type']!r}.")
        if succeeded and phase == "startup":
            return
        await self.settle()
        self.raise_unreported()
        if not succeeded:
            raise RuntimeError(reply.get("message") or f"Lifespan {phase} failed.")
