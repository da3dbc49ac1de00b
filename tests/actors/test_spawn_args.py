"""spawn(factory, *args, name=..., **kwargs): the factory's arguments go with it."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from llmgine._exceptions import ConfigurationError
from llmgine.actors import Actor, OneForOne, open_actor_system


class Greeter(Actor):
    """Built with a positional and a keyword argument; counts its instances."""

    built: list[tuple[str, str]] = []  # noqa: RUF012 - per-test, reset below

    def __init__(self, greeting: str, *, punctuation: str = ".") -> None:
        self.greeting = greeting
        self.punctuation = punctuation
        Greeter.built.append((greeting, punctuation))

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("crash")
        return f"{self.greeting}, {message}{self.punctuation}"


class Named(Actor):
    """An actor whose own keyword ``name`` clashes with spawn's ``name``."""

    def __init__(self, *, name: str = "default") -> None:
        self.own_name = name

    async def receive(self, message: Any) -> Any:
        return self.own_name


class Open(Actor):
    """Takes any keywords."""

    def __init__(self, **options: Any) -> None:
        self.options = options

    async def receive(self, message: Any) -> Any:
        return self.options


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    Greeter.built = []


async def test_args_and_kwargs_reach_the_factory_and_every_restart() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Greeter, "Hello", name="greeter", punctuation="!")
        assert await ref.ask("Ada") == "Hello, Ada!"
        with pytest.raises(RuntimeError):
            await ref.ask("crash")
        assert await ref.ask("Bob") == "Hello, Bob!"  # the restart got them too
        assert Greeter.built == [("Hello", "!"), ("Hello", "!")]
        assert ref.statistics().restarts == 1


async def test_spawn_options_stay_spawns_own() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Greeter, "Hi", name="g", restart="temporary")
        assert ref.path == "/app/g"
        assert Greeter.built == [("Hi", ".")]


async def test_the_zero_argument_form_still_works() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(Greeter, "Hey"), name="g")
        assert await ref.ask("you") == "Hey, you."


async def test_nowait_and_supervisor_refs_take_arguments_too() -> None:
    async with open_actor_system("app") as system:
        first = system.spawn_nowait(Greeter, "A", name="a", punctuation="?")
        sup = await system.spawn_supervisor("sup", strategy=OneForOne())
        second = await sup.spawn(Greeter, "B", name="b")
        third = sup.spawn_nowait(Greeter, "C", name="c", punctuation="!")
        assert await first.ask("x") == "A, x?"
        assert await second.ask("y") == "B, y."
        assert await third.ask("z") == "C, z!"
        assert third.path == "/app/sup/c"


async def test_a_factory_keyword_named_like_a_spawn_option_goes_through_partial() -> None:
    async with open_actor_system("app") as system:
        clash = await system.spawn(Named, name="actor")
        assert await clash.ask("?") == "default"  # ``name`` was spawn's
        inner = await system.spawn(functools.partial(Named, name="own"), name="other")
        assert await inner.ask("?") == "own"
        assert inner.path == "/app/other"


async def test_a_factory_taking_any_keyword_gets_all_but_spawns_options() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Open, name="open", mailbox=None, restrat=1, colour="red")
        assert await ref.ask("?") == {"restrat": 1, "colour": "red"}


async def test_an_unexpected_keyword_is_a_clear_error_at_spawn() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(
            ConfigurationError,
            match=r"cannot spawn Greeter: got an unexpected keyword argument 'punct'",
        ):
            await system.spawn(Greeter, "Hi", name="g", punct="!")
        assert Greeter.built == []
        assert system.lookup("/app/g") is None
        # nothing was claimed: the name is still free
        ref = await system.spawn(Greeter, "Hi", name="g")
        assert await ref.ask("x") == "Hi, x."


async def test_a_missing_argument_is_a_clear_error_at_spawn() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(
            ConfigurationError,
            match="cannot spawn Greeter: missing a required argument: 'greeting'",
        ):
            system.spawn_nowait(Greeter, name="g", punctuation="!")


async def test_a_misspelt_spawn_option_gets_a_hint() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(
            ConfigurationError, match=r"did you mean spawn's option 'restart'\?"
        ):
            await system.spawn(Greeter, "Hi", name="g", restrat="temporary")


async def test_an_instance_instead_of_a_factory_is_refused() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(
            ConfigurationError,
            match=r"not an instance \(got a Greeter\): write spawn\(Greeter,",
        ):
            await system.spawn(Greeter("Hi"), name="g")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="must be a callable"):
            await system.spawn(42, name="h")  # type: ignore[arg-type]


class Opaque:
    """A factory whose signature cannot be read: the call itself decides."""

    __signature__ = "not a signature"

    def __call__(self, greeting: str) -> Greeter:
        return Greeter(greeting)


async def test_a_factory_without_a_readable_signature_is_called_as_is() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Opaque(), "Yo", name="g")
        assert await ref.ask("x") == "Yo, x."
        with pytest.raises(TypeError):
            await system.spawn(Opaque(), "Yo", "extra", name="h")


class Flexible(Actor):
    """Needs ``size``; takes any keyword besides."""

    def __init__(self, size: int, **options: Any) -> None:
        self.size = size

    async def receive(self, message: Any) -> Any:
        return self.size


async def test_a_factory_taking_any_keyword_gets_no_spelling_hint() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(ConfigurationError, match="'size'") as info:
            await system.spawn(Flexible, name="f", restrat=1)
        assert "did you mean" not in str(info.value)
