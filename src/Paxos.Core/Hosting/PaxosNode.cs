using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Paxos.Diagnostics;

namespace Paxos;

/// <summary>
/// Runs one replica for an application (DESIGN.md §1): it owns the replica's inbox, its clock, its storage,
/// its transport and its executor, and applies every output batch under the durability contract —
/// persisted (one fsync for the whole batch: group commit), then sent, then answered.
/// </summary>
/// <remarks>
/// All protocol work happens on one logical thread, the node's loop. <see cref="SubmitAsync"/> and the
/// transport only post into the loop's bounded inbox; a full inbox drops peer messages (counted, and
/// harmless: the protocol retransmits) and refuses submissions with <see cref="SubmitFailure.Overloaded"/>.
/// </remarks>
public sealed class PaxosNode : IAsyncDisposable
{
    private const int MaxTicksPerIteration = 16;

    private readonly PaxosOptions _options;
    private readonly IExecutor _executor;
    private readonly ITransport _transport;
    private readonly IReplicaStorage _storage;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ulong _seed;
    private readonly Channel<Input> _inbox;
    private readonly Dictionary<(ClientId Client, long Timestamp), List<TaskCompletionSource<ReadOnlyMemory<byte>>>> _waiters = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifecycle = new();

    private PaxosReplica? _replica;
    private ITimer? _timer;
    private Task? _loop;
    private Task? _stop;
    private int _pendingTicks;
    private volatile StatusBox _status;
    private volatile NodeState _nodeState;
    private long _messagesDroppedInboxFull;

    /// <summary>Creates a node; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The replica's options; validated here.</param>
    /// <param name="executor">The application state machine, in its initial state.</param>
    /// <param name="transport">Carries messages to and from peers; the node disposes it.</param>
    /// <param name="storage">Stable storage; in memory (nothing survives the process) when null.</param>
    /// <param name="loggerFactory">Where logs go; none when null.</param>
    /// <param name="timeProvider">The clock that drives ticks; the system clock when null.</param>
    /// <param name="seed">Seeds the replica's random choices.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range.</exception>
    public PaxosNode(
        PaxosOptions options,
        IExecutor executor,
        ITransport transport,
        IReplicaStorage? storage = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        ulong? seed = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(transport);
        PaxosOptionsValidator.ThrowIfInvalid(options);

        _options = options;
        _executor = executor;
        _transport = transport;
        _storage = storage ?? new InMemoryReplicaStorage();
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<PaxosNode>();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _seed = seed ?? (ulong)Random.Shared.NextInt64();
        _inbox = Channel.CreateBounded<Input>(new BoundedChannelOptions(options.MaxInboxMessages)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Id = new ReplicaId(options.ReplicaId);
        _status = new StatusBox(new ReplicaStatus { Id = Id, Leader = ReplicaId.None });
    }

    private enum NodeState
    {
        Created,
        Running,
        Stopped,
        Faulted,
    }

    /// <summary>This node's replica id.</summary>
    public ReplicaId Id { get; }

    /// <summary>The replica's state as of the loop's last iteration.</summary>
    public ReplicaStatus Status => _status.Value;

    /// <summary>Peer messages dropped because the inbox was full.</summary>
    public long MessagesDroppedInboxFull => Interlocked.Read(ref _messagesDroppedInboxFull);

    /// <summary>Recovers the replica from storage and starts its loop, its clock and its transport.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">The node was started before.</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_lifecycle)
        {
            if (_nodeState != NodeState.Created || _loop is not null)
            {
                throw new InvalidOperationException("A node starts once.");
            }

            _loop = Task.CompletedTask;
        }

        var recovered = await _storage.LoadAsync(cancellationToken).ConfigureAwait(false);
        _replica = new PaxosReplica(_options, _executor, recovered, _loggerFactory.CreateLogger<PaxosReplica>(), _seed);
        PublishStatus();
        await _transport.StartAsync(new Receiver(this), cancellationToken).ConfigureAwait(false);
        _nodeState = NodeState.Running;
        _loop = Task.Run(RunAsync, CancellationToken.None);
        _timer = _timeProvider.CreateTimer(static state => ((PaxosNode)state!).OnTimer(), this, _options.TickInterval, _options.TickInterval);
        NodeLog.Started(_logger, Id, _options.ClusterSize, recovered.LastInstalled);
    }

    /// <summary>
    /// Submits an update and completes with the executor's reply once it executed. Any replica takes
    /// updates: a non-leader forwards them to the leader and stays responsible for them until they execute.
    /// Re-submitting the same (client id, timestamp), here or elsewhere, never executes it twice and returns
    /// the same reply.
    /// </summary>
    /// <param name="update">The update.</param>
    /// <param name="cancellationToken">Stops waiting (the update may still execute).</param>
    /// <returns>The executor's reply.</returns>
    /// <exception cref="PaxosSubmitException">The update was refused or will not be answered; see
    /// <see cref="PaxosSubmitException.Reason"/>.</exception>
    public Task<ReadOnlyMemory<byte>> SubmitAsync(ClientUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.Payload.Length > _options.MaxUpdateBytes)
        {
            return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.UpdateTooLarge,
                $"The update's payload is {update.Payload.Length} bytes; {nameof(PaxosOptions.MaxUpdateBytes)} is {_options.MaxUpdateBytes}."));
        }

        switch (_nodeState)
        {
            case NodeState.Faulted:
                return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.Faulted, "The node stopped after a failure."));
            case NodeState.Created:
            case NodeState.Stopped:
                return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.Stopped, "The node is not running."));
            default:
                break;
        }

        var completion = new TaskCompletionSource<ReadOnlyMemory<byte>>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inbox.Writer.TryWrite(new Input(null, update, completion)))
        {
            return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.Overloaded, "The node's inbox is full."));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state => ((TaskCompletionSource<ReadOnlyMemory<byte>>)state!).TrySetCanceled(), completion);
            _ = completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return completion.Task;
    }

    /// <summary>Stops the loop, the clock and the transport. Waiting submissions fail with
    /// <see cref="SubmitFailure.Stopped"/>; their updates may still execute elsewhere. Calling it again
    /// waits for the first stop.</summary>
    /// <param name="cancellationToken">Stops waiting for the loop to finish.</param>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        Task stop;
        lock (_lifecycle)
        {
            if (_nodeState is NodeState.Created or NodeState.Running)
            {
                _nodeState = NodeState.Stopped;
            }

            stop = _stop ??= StopOnceAsync();
        }

        return stop.WaitAsync(cancellationToken);
    }

    /// <summary>Stops the node (idempotent).</summary>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task StopOnceAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }

        await _transport.DisposeAsync().ConfigureAwait(false);
    }

    private void OnTimer()
    {
        if (Interlocked.Increment(ref _pendingTicks) == 1)
        {
            _inbox.Writer.TryWrite(default); // A wake-up; if the inbox is full the loop is busy anyway.
        }
    }

    private void Post(PaxosMessage message)
    {
        if (!_inbox.Writer.TryWrite(new Input(message, null, null)))
        {
            Interlocked.Increment(ref _messagesDroppedInboxFull);
        }
    }

    private async Task RunAsync()
    {
        var replica = _replica!;
        var reader = _inbox.Reader;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                if (!reader.TryPeek(out _) && Volatile.Read(ref _pendingTicks) == 0)
                {
                    if (!await reader.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
                    {
                        break;
                    }
                }

                // Drain what is ready, so that one batch (one Proposal, one fsync) covers it all.
                var drained = 0;
                while (drained++ < _options.MaxInboxMessages && reader.TryRead(out var input))
                {
                    Apply(replica, input);
                }

                var ticks = Math.Min(Interlocked.Exchange(ref _pendingTicks, 0), MaxTicksPerIteration);
                for (var i = 0; i < ticks; i++)
                {
                    replica.Tick();
                }

                await ProcessOutputAsync(replica).ConfigureAwait(false);
                PublishStatus();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            _nodeState = NodeState.Faulted;
            NodeLog.Faulted(_logger, Id, exception);
            FailAll(SubmitFailure.Faulted, "The node stopped after a failure.", exception);
            PublishStatus();
            return;
        }

        FailAll(SubmitFailure.Stopped, "The node stopped.", null);
        PublishStatus();
        NodeLog.Stopped(_logger, Id);
    }

    private void Apply(PaxosReplica replica, Input input)
    {
        if (input.Message is { } message)
        {
            replica.Step(message);
        }
        else if (input.Update is { } update)
        {
            OnSubmit(replica, update, input.Completion!);
        }
    }

    private void OnSubmit(PaxosReplica replica, ClientUpdate update, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        var status = replica.Submit(update);
        switch (status)
        {
            case SubmitStatus.Accepted:
            case SubmitStatus.AlreadyExecuted:
                var key = (update.ClientId, update.Timestamp);
                if (!_waiters.TryGetValue(key, out var list))
                {
                    list = [];
                    _waiters[key] = list;
                }

                list.Add(completion);
                break;
            case SubmitStatus.Stale:
                completion.TrySetException(Failure(SubmitFailure.Stale, $"Client {update.ClientId} already has a newer update than timestamp {update.Timestamp}."));
                break;
            case SubmitStatus.TooLarge:
                completion.TrySetException(Failure(SubmitFailure.UpdateTooLarge, "The update's payload is too large."));
                break;
            default:
                completion.TrySetException(Failure(SubmitFailure.Overloaded, $"Replica {Id} is responsible for {_options.MaxPendingUpdates} pending updates already."));
                break;
        }
    }

    /// <summary>Applies output batches until the replica has nothing more to say, under the contract:
    /// persist (one sync covers the batch), acknowledge, send, answer.</summary>
    private async ValueTask ProcessOutputAsync(PaxosReplica replica)
    {
        while (true)
        {
            var batch = replica.TakeOutput();
            if (batch.IsEmpty)
            {
                return;
            }

            await _storage.PersistAsync(batch, _stopping.Token).ConfigureAwait(false);
            replica.AcknowledgePersisted(batch.Number);
            Send(batch);
            Answer(batch);
            replica.ReleaseOutput(batch);
        }
    }

    private void Send(OutputBatch batch)
    {
        var messages = batch.Messages;
        if (messages.Count == 0)
        {
            return;
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var outbound = messages[i];
            if (!outbound.IsBroadcast)
            {
                _transport.Send(outbound.Destination, outbound.Message);
                continue;
            }

            for (var peer = 0; peer < _options.ClusterSize; peer++)
            {
                if (peer != Id.Value)
                {
                    _transport.Send(new ReplicaId(peer), outbound.Message);
                }
            }
        }

        _transport.Flush();
    }

    private void Answer(OutputBatch batch)
    {
        foreach (var reply in batch.Replies)
        {
            if (!_waiters.Remove((reply.ClientId, reply.Timestamp), out var list))
            {
                continue;
            }

            foreach (var completion in list)
            {
                if (reply.Status == ReplyStatus.Executed)
                {
                    completion.TrySetResult(reply.Result);
                }
                else
                {
                    completion.TrySetException(Failure(SubmitFailure.Superseded, $"Client {reply.ClientId} submitted a newer update before timestamp {reply.Timestamp} executed."));
                }
            }
        }
    }

    private void FailAll(SubmitFailure reason, string message, Exception? cause)
    {
        _inbox.Writer.TryComplete();
        while (_inbox.Reader.TryRead(out var input))
        {
            input.Completion?.TrySetException(Failure(reason, message, cause));
        }

        foreach (var list in _waiters.Values)
        {
            foreach (var completion in list)
            {
                completion.TrySetException(Failure(reason, message, cause));
            }
        }

        _waiters.Clear();
    }

    private PaxosSubmitException Failure(SubmitFailure reason, string message, Exception? cause = null)
    {
        var leader = _status.Value.Leader;
        return new PaxosSubmitException(reason, leader.IsNone ? null : leader, message, cause);
    }

    private void PublishStatus()
    {
        var replica = _replica;
        if (replica is null)
        {
            return;
        }

        var status = replica.Status with { IsFaulted = replica.IsFaulted || _nodeState == NodeState.Faulted };
        if (status != _status.Value)
        {
            _status = new StatusBox(status);
        }
    }

    private readonly record struct Input(PaxosMessage? Message, ClientUpdate? Update, TaskCompletionSource<ReadOnlyMemory<byte>>? Completion);

    private sealed record StatusBox(ReplicaStatus Value);

    private sealed class Receiver(PaxosNode node) : ITransportReceiver
    {
        public void Receive(PaxosMessage message) => node.Post(message);
    }
}
