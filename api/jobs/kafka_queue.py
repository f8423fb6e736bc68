"""The scale-out job queue: a Kafka request topic read by the workers as one consumer group.

``DOCSERVE_QUEUE=kafka``. ``enqueue`` produces the job's ``JobRequest`` (Avro, keyed by request
id, carrying the job's owner) to the request topic; a client that speaks Kafka puts the same
message there itself (as the anonymous owner). A job is its owner's request id, on the store as
in the result published: a message without an owner (written before owners) means the job its
request id named then, the oldest stored under it (``JobStore.legacy_owner``). Each
worker process's queue is a member of the consumer group, so the topic's partitions are
shared out and re-shared when a worker joins or dies. Delivery is at-least-once:

- ``claim`` hands out the next message and starts the attempt on the store's record
  (``JobStore.start_attempt``): a job already final is skipped (its stored outcome is published
  again: a crash between storing and publishing loses nothing); one leased by a live worker (a
  rebalance handed its partition over) or not due (a retry) waits for ``not_before``, so two
  workers never run one job at once.
- ``succeed`` / ``fail`` store the outcome first-wins (the lease-filtered writes of the store's
  ``JobQueue`` side), publish the ``JobResult`` to the result topic, and only then mark the
  offset done. Offsets are committed per partition up to the oldest message still in flight.
- ``retry_later`` stores the retry time, produces the request again, and pauses every partition
  of this consumer for the retry delay: a Triton that is down is not hammered by the next
  messages (backpressure instead of a tight retry loop).
- Poison messages (bytes that are not Avro, an unknown schema id, invalid fields, a request id
  its owner used for another body) go to the dead-letter topic with the reason in the
  ``docserve-dead-letter-reason`` header, and consumption goes on.
- At most ``max_in_flight`` messages are taken and not yet done per process (the partitions
  are paused past it): with the workers' concurrency, partitions x workers is the throttle.

confluent-kafka's clients block, so the consumer lives on its own thread (it alone touches the
consumer object) and the producer's delivery reports are served by another; the event loop only
awaits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError
from loguru import logger
from pydantic import ValidationError

from docserve.api.jobs.protocols import JobQueue, JobStore
from docserve.api.jobs.records import Job, JobRequest
from docserve.contract.errors import ConflictError, QueueUnavailableError
from docserve.contract.job_messages import model_versions
from docserve.contract.jobs import JobSubmission
from docserve.inference.job_messages import (
    JobMessageCodec,
    JobRequestMessage,
    JobResultMessage,
    request_fields,
)

DEAD_LETTER_REASON = "docserve-dead-letter-reason"
# Consumer-group timing: a worker that dies loses its partitions after SESSION_TIMEOUT_MS.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000
POLL_S = 0.2
MESSAGE_TIMEOUT_MS = 10_000  # the producer gives a message up after (the broker is down)
PRODUCE_TIMEOUT_S = MESSAGE_TIMEOUT_MS / 1000 + 5
QUEUE_RETRY_AFTER_S = 5
STORE_RETRY_S = 1.0  # a message whose attempt could not be started (store down) is tried again after


@dataclass
class Delivery:
    """One message taken from the request topic, until its offset is done."""

    partition: int
    offset: int
    generation: int  # the partition's assignment it came with (stale after a rebalance)
    key: bytes | None
    value: bytes
    request: JobRequest | None = None
    owner_unsaid: bool = False  # a message from before owners: the request's owner is still to resolve


@dataclass
class _Partition:
    generation: int
    in_flight: set[int] = field(default_factory=set)
    next_offset: int | None = None  # one past the last message received
    committed: int | None = None

    def committable(self) -> int | None:
        """The offset to commit: the oldest still in flight, else one past the last received."""
        return min(self.in_flight) if self.in_flight else self.next_offset


def job_request(message: JobRequestMessage) -> JobRequest:
    """The request a message carries; its owner None both for the anonymous owner and for a
    message from before owners (``message.owner`` None: see ``Delivery.owner_unsaid``)."""
    return JobRequest(request_id=message.request_id, pipeline=message.pipeline, location=message.location,
                      options=message.options, callback_url=message.callback_url, owner=message.owner or None)


def result_message(job: Job) -> JobResultMessage:
    return JobResultMessage(
        request_id=job.request_id, pipeline=job.pipeline, status=job.status.value, result=job.result,
        error_code=job.error_code, error_message=job.error_message, model_versions=model_versions(job.result),
        attempts=job.attempts, finished_at=job.finished_at or time.time(), owner=job.owner or "",
    )


class KafkaJobQueue:
    """A ``JobQueue`` over the request topic, leasing jobs on ``store`` (``leases``: the same
    backend's lease-filtered writes)."""

    def __init__(self, bootstrap_servers: str, codec: JobMessageCodec, dead_letter_topic: str,
                 consumer_group: str, store: JobStore, leases: JobQueue, max_in_flight: int,
                 clock: Callable[[], float] = time.time):
        self.codec = codec
        self.request_topic = codec.request_topic
        self.result_topic = codec.result_topic
        self.dead_letter_topic = dead_letter_topic
        self.store = store
        self.leases = leases
        self.max_in_flight = max_in_flight
        self._clock = clock
        self._consumer_config = {
            "bootstrap.servers": bootstrap_servers, "group.id": consumer_group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_TIMEOUT_MS, "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        }
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 2,
                                   "message.timeout.ms": MESSAGE_TIMEOUT_MS})
        self._closing = threading.Event()
        self._producer_thread = threading.Thread(target=self._serve_deliveries, name="kafka-producer",
                                                 daemon=True)
        self._producer_thread.start()
        self._consumer_thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deliveries: asyncio.Queue[Delivery] | None = None
        self._done: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        self._partitions: dict[int, _Partition] = {}
        self._generations = 0
        self._in_flight = 0  # taken from the topic, not yet done (consumer thread only)
        self._paused_until = 0.0  # monotonic; set by retry_later: backpressure
        self._held: list[tuple[float, Delivery]] = []  # not runnable yet: (not_before, delivery)
        self._running: dict[tuple[str | None, str], Delivery] = {}  # by (owner, request_id)

    # -- producing -------------------------------------------------------------------------------
    def _serve_deliveries(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.1)

    async def _produce(self, topic: str, key: bytes | str | None, value: bytes,
                       headers: list[tuple[str, bytes]] | None = None) -> None:
        """Produce one message and wait until the broker has it (acks=all)."""
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()

        def report(error: KafkaError | None, _message: Message) -> None:
            def settle() -> None:
                if delivered.done():
                    return
                if error is None:
                    delivered.set_result(None)
                else:
                    delivered.set_exception(KafkaException(error))
            loop.call_soon_threadsafe(settle)

        self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report)
        await asyncio.wait_for(delivered, PRODUCE_TIMEOUT_S)

    async def enqueue(self, job: Job) -> None:
        """Produce the job's request; ``QueueUnavailableError`` (503) when the broker does not
        take it in time (the record stays queued: a repeated submission offers it again)."""
        value = self.codec.encode_request(JobRequestMessage(
            request_id=job.request_id, pipeline=job.pipeline, location=job.location, options=job.options,
            callback_url=job.callback_url, submitted_at=job.created_at, owner=job.owner or ""))
        try:
            await self._produce(self.request_topic, job.request_id, value)
        except (KafkaException, BufferError, TimeoutError) as error:
            raise QueueUnavailableError(f"the job queue did not take job {job.request_id!r}: {error}",
                                        retry_after_s=QUEUE_RETRY_AFTER_S) from error

    async def publish_result(self, job: Job) -> None:
        """The stored outcome of a final job on the result topic (again, if it was published)."""
        await self._produce(self.result_topic, job.request_id, self.codec.encode_result(result_message(job)))

    async def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        logger.warning("request topic partition {} offset {}: dead letter ({})", delivery.partition,
                       delivery.offset, reason)
        await self._produce(self.dead_letter_topic, delivery.key, delivery.value, headers=[
            (DEAD_LETTER_REASON, reason.encode()),
            ("docserve-source", f"{self.request_topic}/{delivery.partition}/{delivery.offset}".encode()),
        ])

    # -- consuming (the consumer thread) ---------------------------------------------------------
    def _start_consumer(self) -> None:
        if self._consumer_thread is None:
            self._loop = asyncio.get_running_loop()
            self._deliveries = asyncio.Queue()
            self._consumer_thread = threading.Thread(target=self._consume, name="kafka-consumer", daemon=True)
            self._consumer_thread.start()

    def _consume(self) -> None:
        consumer = Consumer(self._consumer_config)
        consumer.subscribe([self.request_topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        paused = False
        try:
            while not self._closing.is_set():
                self._settle_done(consumer)
                hold = self._in_flight >= self.max_in_flight or time.monotonic() < self._paused_until
                assignment = consumer.assignment()
                if hold != paused and assignment:
                    (consumer.pause if hold else consumer.resume)(assignment)
                    paused = hold
                message = consumer.poll(POLL_S)
                if message is None or hold:
                    continue
                if message.error():
                    logger.warning("request topic: {}", message.error())
                    continue
                self._receive(message)
            self._settle_done(consumer)
        except Exception:
            logger.exception("Kafka consumer stopped")
        finally:
            with contextlib.suppress(Exception):
                consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for partition in partitions:
            self._generations += 1
            self._partitions[partition.partition] = _Partition(self._generations)
        logger.info("request topic partitions assigned: {}", sorted(p.partition for p in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit(consumer)
        for partition in partitions:
            self._partitions.pop(partition.partition, None)
        logger.info("request topic partitions revoked: {}", sorted(p.partition for p in partitions))

    def _receive(self, message: Message) -> None:
        owned = self._partitions.get(message.partition())
        if owned is None:
            return
        delivery = Delivery(message.partition(), message.offset(), owned.generation, message.key(),
                            message.value() or b"")
        owned.in_flight.add(delivery.offset)
        owned.next_offset = delivery.offset + 1
        self._in_flight += 1
        assert self._loop is not None and self._deliveries is not None
        self._loop.call_soon_threadsafe(self._deliveries.put_nowait, delivery)

    def _settle_done(self, consumer: Consumer) -> None:
        settled = False
        while True:
            try:
                delivery = self._done.get_nowait()
            except queue.Empty:
                break
            self._in_flight -= 1
            owned = self._partitions.get(delivery.partition)
            if owned is not None and owned.generation == delivery.generation:
                owned.in_flight.discard(delivery.offset)
                settled = True
        if settled:
            self._commit(consumer)

    def _commit(self, consumer: Consumer) -> None:
        offsets = []
        for number, owned in self._partitions.items():
            offset = owned.committable()
            if offset is not None and offset != owned.committed:
                offsets.append(TopicPartition(self.request_topic, number, offset))
                owned.committed = offset
        if offsets:
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as error:  # e.g. a rebalance under way: the next owner redelivers
                logger.warning("offset commit failed: {}", error)

    # -- the JobQueue ----------------------------------------------------------------------------
    def _decoded(self, delivery: Delivery) -> str | None:
        """Decode and check the message in place; the reason it is poison, or None."""
        try:
            message = request_fields(self.codec.decode_request(delivery.value))
            JobSubmission.model_validate({
                "request_id": message.request_id, "pipeline": message.pipeline, "location": message.location,
                "options": message.options, "callback_url": message.callback_url})
        except (SerializationError, SchemaRegistryError) as error:  # not Avro, or an unknown schema id
            return f"undecodable: {error}"
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            return f"invalid fields: {problems}"
        except (ValueError, KeyError, TypeError) as error:
            return f"invalid fields: {error}"
        delivery.request = job_request(message)
        delivery.owner_unsaid = message.owner is None
        return None

    async def _resolve_owner(self, delivery: Delivery) -> JobRequest:
        """The delivery's request with its owner: a message from before owners names the job
        its request id named then (the oldest stored under it)."""
        assert delivery.request is not None
        if delivery.owner_unsaid:
            owner = await self.store.legacy_owner(delivery.request.request_id)
            delivery.request = replace(delivery.request, owner=owner)
            delivery.owner_unsaid = False
        return delivery.request

    async def _next(self, deadline: float) -> Delivery | None:
        assert self._deliveries is not None
        while True:
            now = self._clock()
            self._held.sort(key=lambda held: held[0])
            if self._held and self._held[0][0] <= now:
                return self._held.pop(0)[1]
            until = min([deadline, *(held[0] for held in self._held[:1])])
            if until <= now and deadline <= now:
                return None
            try:
                return await asyncio.wait_for(self._deliveries.get(), max(0.0, until - now))
            except TimeoutError:
                if self._clock() >= deadline and not (self._held and self._held[0][0] <= self._clock()):
                    return None

    def _finish_delivery(self, delivery: Delivery) -> None:
        self._done.put(delivery)

    async def claim(self, worker_id: str, lease_s: float, wait_s: float) -> Job | None:
        self._start_consumer()
        deadline = self._clock() + wait_s
        while (delivery := await self._next(deadline)) is not None:
            owned = self._partitions.get(delivery.partition)
            if owned is None or owned.generation != delivery.generation:  # revoked: its next owner has it
                self._finish_delivery(delivery)
                continue
            if delivery.request is None and (reason := self._decoded(delivery)) is not None:
                await self._dead_letter(delivery, reason)
                self._finish_delivery(delivery)
                continue
            try:
                request = await self._resolve_owner(delivery)
                attempt = await self.store.start_attempt(request, worker_id, lease_s)
            except ConflictError as error:
                await self._dead_letter(delivery, f"conflict: {error.message}")
                self._finish_delivery(delivery)
                continue
            except Exception:  # the store is unreachable: keep the message, ask again shortly
                assert delivery.request is not None
                logger.exception("job {}: could not start the attempt; retried in {}s",
                                 delivery.request.request_id, STORE_RETRY_S)
                self._held.append((self._clock() + STORE_RETRY_S, delivery))
                continue
            if attempt.started:
                self._running[(attempt.job.owner, attempt.job.request_id)] = delivery
                return attempt.job
            if attempt.job.status.final:  # a duplicate: its outcome is stored; publish it (again)
                await self.publish_result(attempt.job)
                self._finish_delivery(delivery)
                continue
            self._held.append((attempt.not_before or self._clock(), delivery))
        return None

    async def extend_lease(self, job: Job, worker_id: str, lease_s: float) -> bool:
        return await self.leases.extend_lease(job, worker_id, lease_s)

    async def start_pages(self, job: Job, worker_id: str, pages_total: int) -> bool:
        return await self.leases.start_pages(job, worker_id, pages_total)

    async def record_page(self, job: Job, worker_id: str, page: dict[str, Any]) -> bool:
        return await self.leases.record_page(job, worker_id, page)

    async def succeed(self, job: Job, worker_id: str, result: dict[str, Any]) -> bool:
        return await self._settle(job, await self.leases.succeed(job, worker_id, result))

    async def fail(self, job: Job, worker_id: str, code: str, message: str) -> bool:
        return await self._settle(job, await self.leases.fail(job, worker_id, code, message))

    async def _settle(self, job: Job, stored: bool) -> bool:
        """Stored -> published -> offset done (a crash before the commit redelivers, harmlessly)."""
        if stored:
            await self.publish_result(await self.store.get(job.request_id, job.owner))
        delivery = self._running.pop((job.owner, job.request_id), None)
        if delivery is not None:
            self._finish_delivery(delivery)
        return stored

    async def retry_later(self, job: Job, worker_id: str, code: str, message: str, delay_s: float) -> bool:
        stored = await self.leases.retry_later(job, worker_id, code, message, delay_s)
        if stored:
            self._paused_until = max(self._paused_until, time.monotonic() + delay_s)
            await self.enqueue(job)
        delivery = self._running.pop((job.owner, job.request_id), None)
        if delivery is not None:
            self._finish_delivery(delivery)
        return stored

    async def release(self, job: Job, worker_id: str) -> bool:
        """The record is released; the message is left undone, its offset uncommitted: the
        consumer group delivers it again (to this worker once restarted, or to another)."""
        self._running.pop(job.request_id, None)
        return await self.leases.release(job, worker_id)

    async def close(self) -> None:
        self._closing.set()
        threads = [thread for thread in (self._consumer_thread, self._producer_thread) if thread is not None]
        for thread in threads:
            await asyncio.to_thread(thread.join, 15)
        await asyncio.to_thread(self._producer.flush, 10)
