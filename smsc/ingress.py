"""The SMPP server's delegate: authenticate binds, validate submits, persist, then acknowledge.

The protocol layer (protocols/smpp/server.py) knows nothing of accounts or SQL; it asks this
object. A submit's response is only returned once its row is committed (group commit), so an
acknowledged message is never lost. Failed binds from one IP are answered ever more slowly.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from protocols.smpp.constants import Status
from protocols.smpp.errors import SmppError
from protocols.smpp.session import ANSWER_LATER
from protocols.smpp.times import format_smpp_time
from smsc.esme import AccountBinding, EsmeRegistry
from smsc.states import TO_SMPP
from smsc.group_commit import GroupCommitter
from smsc.store import messages as store
from smsc.store.accounts import get_account_txn
from smsc.store.ids import IdGenerator
from smsc.store.reports import parse_message_id
from smsc.submit import IntakeLimits, check_address, message_content, message_row, message_template, message_times

log = Logger()

MAX_DESTINATIONS = 254  # submit_multi number_of_dests is one octet; SMPP 3.4 caps it at 254


class Ingress:
    def __init__(
        self,
        *,
        run_interaction: Callable[..., Deferred],
        clock: IReactorTime,
        registry: EsmeRegistry,
        committer: GroupCommitter,
        ids: IdGenerator,
        limits: IntakeLimits,
        failure_throttle: Any,
        verify_password: Callable[[str, str], Deferred],
        metrics: Any = None,
        on_receiver_bound: Callable[[], None] = lambda: None,
        unroutable: Callable[[dict[str, Any], str], str | None] | None = None,
    ) -> None:
        self._unroutable = unroutable  # (row, system_id) -> why, when submits without a route are refused
        self._run = run_interaction
        self._on_receiver_bound = on_receiver_bound
        self._clock = clock
        self.registry = registry
        self._committer = committer
        self._ids = ids
        self._limits = limits
        self._throttle = failure_throttle
        self._verify = verify_password
        self._metrics = metrics
        self._handlers = {
            "submit_sm": self._submit_sm,
            "data_sm": self._submit_sm,
            "submit_multi": self._submit_multi,
            "query_sm": self._query_sm,
            "cancel_sm": self._cancel_sm,
            "replace_sm": self._replace_sm,
        }

    # ------------------------------------------------------------------ binds

    def bind(self, session: Any, request: Any) -> Deferred:
        return Deferred.fromCoroutine(self._bind(session, request))

    async def _bind(self, session: Any, request: Any) -> AccountBinding:
        peer = request.peer
        delay = self._throttle.delay_for(peer)
        if delay > 0:  # this IP failed recently: every further attempt waits
            await deferLater(self._clock, delay, lambda: None)
        account = await self._run("get_account", get_account_txn, request.system_id, readonly=True)
        if account is None:
            self._refuse(peer, request, "unknown_system_id", Status.ESME_RINVSYSID)
        if not account.enabled:
            self._refuse(peer, request, "disabled", Status.ESME_RBINDFAIL)
        if not account.ip_allowed(peer):
            self._refuse(peer, request, "ip_not_allowed", Status.ESME_RBINDFAIL)
        if not await self._verify(request.password, account.password_hash):
            self._refuse(peer, request, "wrong_password", Status.ESME_RINVPASWD)
        self._throttle.record_success(peer)
        binding = self.registry.binding_for(account)
        if len(binding.sessions) >= account.max_binds:
            self._refuse(peer, request, "too_many_binds", Status.ESME_RALYBND, count_failure=False)
        self.registry.add(binding, session)
        session.receive_window = min(session.receive_window, account.window)
        log.info("bound {system_id} as {bind_type} from {peer}", system_id=account.system_id, bind_type=request.bind_type, peer=peer)
        if request.bind_type != "transmitter":
            self._on_receiver_bound()
        return binding

    def _refuse(self, peer: str, request: Any, reason: str, status: int, *, count_failure: bool = True) -> None:
        if count_failure:
            self._throttle.record_failure(peer)
        if self._metrics is not None:
            self._metrics.bind_failed(reason)
        # never log the password, only who tried and why
        log.warn("bind refused for {system_id!r} from {peer}: {reason}", system_id=request.system_id, peer=peer, reason=reason)
        raise SmppError(status, reason.replace("_", " "))

    def unbound(self, session: Any) -> None:
        self.registry.remove(session)

    # ------------------------------------------------------------------ requests

    def request(self, session: Any, pdu: Any) -> Deferred | dict | object:
        handler = self._handlers.get(pdu.command)
        if handler is None:
            raise SmppError(Status.ESME_RINVCMDID, f"{pdu.command} is not handled by this server")
        metrics = self._metrics
        if metrics is None:
            return handler(session, pdu)
        try:
            result = handler(session, pdu)
        except SmppError as exc:
            metrics.count_pdu(pdu.command, exc.status)
            raise
        if result is ANSWER_LATER:
            return result  # submit_sm / data_sm count their own outcome in _submitted
        return result.addCallbacks(self._answered, self._refused, callbackArgs=(pdu.command, self._clock.seconds()),
                                   errbackArgs=(pdu.command,))

    def _answered(self, reply: dict, command: str, started: float) -> dict:
        self._metrics.count_pdu(command, 0)
        if command == "submit_sm":
            self._metrics.observe_submit_latency(self._clock.seconds() - started)
        return reply

    def _refused(self, failure: Any, command: str) -> Any:
        self._metrics.count_pdu(command, getattr(failure.value, "status", Status.ESME_RSYSERR))
        return failure

    def _submit_sm(self, session: Any, pdu: Any) -> object:
        """Validate, then answer from the group commit's notify: no Deferred per message."""
        binding: AccountBinding = session.principal
        if not binding.allow():
            if self._metrics is not None:
                self._metrics.throttled(binding.account.system_id)
            raise SmppError(Status.ESME_RTHROTTLED, "account throughput exceeded")
        message_id = self._ids.next()
        row = message_row(pdu, binding.account, self._clock.seconds(), self._limits, message_id)
        if self._unroutable is not None:
            why = self._unroutable(row, binding.account.system_id)
            if why is not None:
                raise SmppError(Status.ESME_RSUBMITFAIL, f"no usable route: {why}")
        self._committer.add_notify(row, self._submitted, (session, pdu, message_id, self._clock.seconds()))
        return ANSWER_LATER

    def _submitted(self, result: Any, context: tuple[Any, Any, int, float]) -> None:
        """The row of one submit_sm / data_sm is committed (or failed): count it, answer."""
        session, pdu, message_id, started = context
        metrics = self._metrics
        if isinstance(result, Failure):
            if metrics is not None:
                metrics.count_pdu(pdu.command, getattr(result.value, "status", Status.ESME_RSYSERR))
            session.respond(pdu, result)
            return
        if metrics is not None:
            metrics.count_pdu(pdu.command, 0)
            if pdu.command == "submit_sm":
                metrics.observe_submit_latency(self._clock.seconds() - started)
        session.respond(pdu, {"message_id": str(message_id)})

    def _submit_multi(self, session: Any, pdu: Any) -> Deferred:
        binding: AccountBinding = session.principal
        destinations = pdu.params["dest_address"]
        if not 1 <= len(destinations) <= MAX_DESTINATIONS:
            raise SmppError(Status.ESME_RINVNUMDESTS, f"{len(destinations)} destinations")
        if not binding.allow(len(destinations)):
            raise SmppError(Status.ESME_RTHROTTLED, "account throughput exceeded")
        template = message_template(pdu, binding.account, self._clock.seconds(), self._limits)
        rows: list[dict[str, Any]] = []
        unsuccess: list[dict[str, Any]] = []
        for dest in destinations:
            if dest.get("dest_flag") == 2:  # distribution lists are not kept in the SMSC here
                unsuccess.append(_unsuccess(0, 0, dest.get("dl_name", ""), Status.ESME_RINVDLNAME))
                continue
            ton, npi, addr = dest["dest_addr_ton"], dest["dest_addr_npi"], dest["destination_addr"]
            try:
                check_address(ton, npi, addr, source=False)
            except SmppError as exc:
                unsuccess.append(_unsuccess(ton, npi, addr, exc.status))
                continue
            row = dict(template, id=self._ids.next(), dest_addr=addr, dest_ton=ton, dest_npi=npi)
            if self._unroutable is not None and self._unroutable(row, binding.account.system_id) is not None:
                unsuccess.append(_unsuccess(ton, npi, addr, Status.ESME_RSUBMITFAIL))
                continue
            rows.append(row)
        if not rows:
            raise SmppError(unsuccess[0]["error_status_code"], "no valid destination")
        multi_id = rows[0]["id"]
        for row in rows:
            row["multi_id"] = multi_id
        return self._committer.add_many(rows, {"message_id": str(multi_id), "unsuccess_sme": unsuccess})

    def _query_sm(self, session: Any, pdu: Any) -> Deferred:
        binding: AccountBinding = session.principal
        message_id = our_message_id(pdu.params["message_id"])
        source = pdu.params["source_addr"]

        def answer(row: dict[str, Any] | None) -> dict[str, Any]:
            if row is None or (source and row["source_addr"] != source):
                raise SmppError(Status.ESME_RQUERYFAIL, "no such message for this account")
            return {
                "message_id": pdu.params["message_id"],
                "final_date": format_smpp_time(row["done_at"]) if row["done_at"] else "",
                "message_state": TO_SMPP[row["state"]],
                "error_code": 0,
            }

        d = self._run("query_sm", store.get_message_txn, message_id, binding.account.id, readonly=True)
        return d.addCallback(answer)

    def _cancel_sm(self, session: Any, pdu: Any) -> Deferred:
        binding: AccountBinding = session.principal
        p = pdu.params
        message_id = our_message_id(p["message_id"]) if p["message_id"] else None
        if message_id is None and not p["destination_addr"]:
            raise SmppError(Status.ESME_RCANCELFAIL, "cancel_sm needs a message_id or a destination")

        def answer(count: int) -> dict[str, Any]:
            if count == 0:
                raise SmppError(Status.ESME_RCANCELFAIL, "nothing cancellable (unknown, or already sent)")
            return {}

        d = self._run(
            "cancel_sm", store.cancel_txn, binding.account.id, self._clock.seconds(),
            message_id=message_id, source_addr=p["source_addr"], dest_addr=p["destination_addr"],
            service_type=p["service_type"],
        )
        return d.addCallback(answer)

    def _replace_sm(self, session: Any, pdu: Any) -> Deferred:
        binding: AccountBinding = session.principal
        p = pdu.params
        message_id = our_message_id(p["message_id"])
        now = self._clock.seconds()
        limits = self._limits

        def replace(conn: Any) -> bool:
            row = store.get_message_txn(conn, message_id, binding.account.id)
            if row is None:
                return False
            body, text, segments = message_content(pdu, row["esm_class"], row["data_coding"], limits)
            changes: dict[str, Any] = {"body": body, "text": text, "segments": segments,
                                       "registered_delivery": p["registered_delivery"]}
            schedule_at, expires_at = message_times(p, now, limits)
            if p["schedule_delivery_time"]:
                changes["schedule_at"] = schedule_at
            if p["validity_period"]:
                changes["expires_at"] = expires_at
            return store.replace_txn(conn, binding.account.id, message_id, p["source_addr"], now, changes)

        def answer(done: bool) -> dict[str, Any]:
            if not done:
                raise SmppError(Status.ESME_RREPLACEFAIL, "nothing replaceable (unknown, or already sent)")
            return {}

        return self._run("replace_sm", replace).addCallback(answer)


def our_message_id(text: str) -> int:
    """The row id behind a message_id we handed out; RINVMSGID for anything else."""
    try:
        return parse_message_id(text)
    except ValueError as exc:
        raise SmppError(Status.ESME_RINVMSGID, str(exc)) from None


def _unsuccess(ton: int, npi: int, addr: str, status: int) -> dict[str, Any]:
    return {"dest_addr_ton": ton, "dest_addr_npi": npi, "destination_addr": addr, "error_status_code": status}

