using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Paxos.Client.Wire;

namespace Paxos.Client;

/// <summary>
/// Talks to a Paxos.Core cluster from another process, through the replicas' client listeners. It opens a session
/// (registered through the log), submits updates under it one at a time with sequences 1, 2, 3, …, and reads.
/// </summary>
/// <remarks>
/// <para>Retries never execute an update twice: a retry carries the same (session, sequence), wherever it goes, and
/// the cluster answers a repeat from its session table. A failed or silent replica is left for the next one in
/// <see cref="PaxosClientOptions.Replicas"/> (or the leader it named); after a whole round of failures the client
/// pauses, doubling the pause up to <see cref="PaxosClientOptions.MaxRetryDelay"/>. Each operation gives up after
/// <see cref="PaxosClientOptions.OperationTimeout"/>.</para>
/// <para>Submissions are serialized: <see cref="SubmitAsync"/> may be called from many threads, and each call waits
/// for the one before it, because a session has at most one update outstanding. Reads run concurrently with
/// everything. A client is safe to share; it keeps one connection open.</para>
/// <para>When an operation ends without a definite answer (timeout, cancellation) the update is in doubt: it may
/// still execute. The client then abandons its session and opens a new one for the next update, so the in-doubt
/// update is never re-sent under a new sequence.</para>
/// </remarks>
public sealed class PaxosClient : IAsyncDisposable
{
    private readonly EndPoint[] _replicas;
    private readonly byte[] _key;
    private readonly PaxosClientOptions _options;
    private readonly SemaphoreSlim _submitTurn = new(1, 1);
    private readonly SemaphoreSlim _connectTurn = new(1, 1);
    private readonly SemaphoreSlim _inFlight;
    private readonly CancellationTokenSource _disposing = new();
    private readonly Lock _gate = new();

    /// <summary>Replica id to endpoint index, as learned from each replica's Welcome; for following leader hints.</summary>
    private readonly Dictionary<int, int> _endpointOfReplica = [];

    private ReplicaConnection? _connection;
    private int _preferred;
    private long _sessionId;
    private long _nextSequence;
    private int _disposed;

    /// <summary>Creates a client; it connects on first use.</summary>
    /// <param name="options">The replicas' endpoints, the key and the timeouts; copied here.</param>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public PaxosClient(PaxosClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        _options = new PaxosClientOptions
        {
            ClusterKey = options.ClusterKey,
            ConnectTimeout = options.ConnectTimeout,
            RequestTimeout = options.RequestTimeout,
            OperationTimeout = options.OperationTimeout,
            RetryDelay = options.RetryDelay,
            MaxRetryDelay = options.MaxRetryDelay,
            MaxFrameBytes = options.MaxFrameBytes,
            MaxInFlightRequests = options.MaxInFlightRequests,
        };
        _replicas = [.. options.Replicas];
        _key = options.DecodeKey();
        _inFlight = new SemaphoreSlim(options.MaxInFlightRequests, options.MaxInFlightRequests);
    }

    /// <summary>The current session's id; null before the first submission and after a session was abandoned.</summary>
    public long? SessionId
    {
        get
        {
            lock (_gate)
            {
                return _sessionId == 0 ? null : _sessionId;
            }
        }
    }

    /// <summary>The largest payload or query that fits one frame.</summary>
    public int MaxPayloadBytes => _options.MaxFrameBytes - WireFormat.ContentLength(16, authenticated: true);

    /// <summary>
    /// Submits an update and returns the executor's reply once it executed. Opens a session first if the client has
    /// none. Retries (same session and sequence) until a replica answers or
    /// <see cref="PaxosClientOptions.OperationTimeout"/> passes.
    /// </summary>
    /// <param name="payload">The application's bytes; at most <see cref="MaxPayloadBytes"/>.</param>
    /// <param name="cancellationToken">Stops waiting; the update may still execute (and the session is abandoned).</param>
    /// <returns>The executor's reply.</returns>
    /// <exception cref="PaxosClientException">The update was refused or no answer came in time; see
    /// <see cref="PaxosClientException.Reason"/> and <see cref="PaxosClientException.UpdateMayHaveExecuted"/>.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task<ReadOnlyMemory<byte>> SubmitAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (payload.Length > MaxPayloadBytes)
        {
            throw new PaxosClientException(PaxosClientFailure.TooLarge, false, Say($"The payload is {payload.Length} bytes; a frame takes at most {MaxPayloadBytes}."));
        }

        await _submitTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var operation = StartOperation(cancellationToken);
            var submission = new Submission(payload);
            var attempts = new Attempts(this);
            try
            {
                return await SubmitUnderSessionAsync(submission, attempts, operation.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (operation.IsCancellationRequested)
            {
                if (submission.MayHaveExecuted)
                {
                    AbandonSession();
                }

                ThrowIfCancelledByCaller(cancellationToken);
                throw new PaxosClientException(PaxosClientFailure.Timeout, submission.MayHaveExecuted,
                    Say($"No replica answered the update within {_options.OperationTimeout.TotalSeconds:0.#} s{(submission.MayHaveExecuted ? "; it may have executed" : "; it did not reach a replica")}. Last failure: {attempts.LastFailure?.Message ?? "none"}"),
                    attempts.LastFailure);
            }
        }
        finally
        {
            _submitTurn.Release();
        }
    }

    /// <summary>
    /// Reads from the executor's state, linearizably: the answer reflects every update acknowledged before the read
    /// began, this client's included. Retried at any replica until one answers or
    /// <see cref="PaxosClientOptions.OperationTimeout"/> passes (a read changes nothing, so a retry is harmless).
    /// </summary>
    /// <param name="query">The application's query bytes; at most <see cref="MaxPayloadBytes"/>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The executor's answer.</returns>
    /// <exception cref="PaxosClientException">No answer in time, or the query was refused.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public async Task<ReadOnlyMemory<byte>> ReadAsync(ReadOnlyMemory<byte> query, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (query.Length > MaxPayloadBytes)
        {
            throw new PaxosClientException(PaxosClientFailure.TooLarge, false, Say($"The query is {query.Length} bytes; a frame takes at most {MaxPayloadBytes}."));
        }

        using var operation = StartOperation(cancellationToken);
        var attempts = new Attempts(this);
        try
        {
            while (true)
            {
                var answer = await attempts.RequestAsync(id => WireMessages.Bytes(FrameType.Read, id, query.Span, _key.Length > 0), operation.Token).ConfigureAwait(false);
                if (answer is not { } reply)
                {
                    continue;
                }

                if (reply.Type == FrameType.ReadResult)
                {
                    return reply.Body;
                }

                if (IsError(reply, out var error))
                {
                    if (!IsPassing(error.Code))
                    {
                        throw Refused(error, mayHaveExecuted: false);
                    }

                    await attempts.FailedAsync(new IOException(Describe(error)), error.LeaderHint, operation.Token).ConfigureAwait(false);
                    continue;
                }

                await attempts.BrokenAsync(reply, operation.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (operation.IsCancellationRequested)
        {
            ThrowIfCancelledByCaller(cancellationToken);
            throw new PaxosClientException(PaxosClientFailure.Timeout, false,
                Say($"No replica answered the read within {_options.OperationTimeout.TotalSeconds:0.#} s. Last failure: {attempts.LastFailure?.Message ?? "none"}"),
                attempts.LastFailure);
        }
    }

    /// <summary>Closes the connection; operations still running fail. Idempotent.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposing.CancelAsync().ConfigureAwait(false);
        ReplicaConnection? connection;
        lock (_gate)
        {
            connection = _connection;
            _connection = null;
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<ReadOnlyMemory<byte>> SubmitUnderSessionAsync(Submission submission, Attempts attempts, CancellationToken cancellationToken)
    {
        var (session, sequence) = await SessionAsync(attempts, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var answer = await attempts.RequestAsync(
                id => WireMessages.Submit(id, session, sequence, submission.Payload.Span, _key.Length > 0),
                cancellationToken,
                onSent: () => submission.MayHaveExecuted = true).ConfigureAwait(false);
            if (answer is not { } reply)
            {
                continue;
            }

            if (reply.Type == FrameType.Executed)
            {
                lock (_gate)
                {
                    _nextSequence = sequence + 1;
                }

                return reply.Body;
            }

            if (reply.Type == FrameType.Rejected)
            {
                lock (_gate)
                {
                    _nextSequence = sequence + 1; // The rejection used up the sequence, as an execution does.
                }

                throw new PaxosClientException(PaxosClientFailure.UpdateRejected, false, Say($"The executor rejected update {sequence} of session {session} ({reply.Body.Length} bytes of error)."))
                {
                    Error = reply.Body,
                };
            }

            if (!IsError(reply, out var error))
            {
                await attempts.BrokenAsync(reply, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (error.Code == WireErrorCode.SessionExpired)
            {
                AbandonSession();
                if (submission.EarlierAttemptMayHaveExecuted)
                {
                    throw new PaxosClientException(PaxosClientFailure.SessionExpired, true,
                        Say($"Session {session} expired while update {sequence} was in doubt: an earlier attempt may have executed it. The next update opens a new session."));
                }

                // Nothing of this update can have executed: the only attempt that reached a replica was refused as
                // expired. Start over under a new session.
                submission.MayHaveExecuted = false;
                (session, sequence) = await SessionAsync(attempts, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!IsPassing(error.Code))
            {
                if (error.Code is not WireErrorCode.UpdateTooLarge)
                {
                    // The cluster and the client disagree about the session's sequence: start afresh next time.
                    AbandonSession();
                }

                throw Refused(error, submission.EarlierAttemptMayHaveExecuted);
            }

            await attempts.FailedAsync(new IOException(Describe(error)), error.LeaderHint, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The session to submit under and the next sequence, opening a session if there is none. Registration is
    /// retried with one nonce, so however many attempts reach the cluster, it registers one session.</summary>
    private async Task<(long Session, long Sequence)> SessionAsync(Attempts attempts, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_sessionId != 0)
            {
                return (_sessionId, _nextSequence);
            }
        }

        var nonce = NewRegistrationNonce();
        while (true)
        {
            var answer = await attempts.RequestAsync(id => WireMessages.OpenSession(id, nonce, _key.Length > 0), cancellationToken).ConfigureAwait(false);
            if (answer is not { } reply)
            {
                continue;
            }

            if (reply.Type == FrameType.SessionOpened && WireMessages.TryReadLong(reply.Body, out var session) && session > 0)
            {
                lock (_gate)
                {
                    (_sessionId, _nextSequence) = (session, 1);
                }

                return (session, 1);
            }

            if (!IsError(reply, out var error))
            {
                await attempts.BrokenAsync(reply, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!IsPassing(error.Code))
            {
                throw Refused(error, mayHaveExecuted: false);
            }

            await attempts.FailedAsync(new IOException(Describe(error)), error.LeaderHint, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>2^61 plus 60 random bits: positive, and never a session id (those have bit 62 set).</summary>
    private static long NewRegistrationNonce()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return (1L << 61) | (BinaryPrimitives.ReadInt64LittleEndian(bytes) & ((1L << 60) - 1));
    }

    private void AbandonSession()
    {
        lock (_gate)
        {
            (_sessionId, _nextSequence) = (0, 0);
        }
    }

    private CancellationTokenSource StartOperation(CancellationToken cancellationToken)
    {
        var operation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        operation.CancelAfter(_options.OperationTimeout);
        return operation;
    }

    private void ThrowIfCancelledByCaller(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposing.IsCancellationRequested, this);
    }

    /// <summary>The current connection, or a new one to the preferred replica; null when connecting failed (the
    /// preference has moved on).</summary>
    private async Task<ReplicaConnection?> ConnectionAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_connection is { IsClosed: false } open)
            {
                return open;
            }
        }

        await _connectTurn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int index;
            lock (_gate)
            {
                if (_connection is { IsClosed: false } open)
                {
                    return open;
                }

                index = _preferred;
            }

            var connection = await ReplicaConnection.ConnectAsync(_replicas[index], index, _key, _options.MaxFrameBytes, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                _endpointOfReplica[connection.Welcome.ReplicaId] = index;
                _connection = connection;
            }

            return connection;
        }
        finally
        {
            _connectTurn.Release();
        }
    }

    /// <summary>Leaves a connection that failed (if it is still the current one) for the hinted leader when the client
    /// knows its endpoint, else for the next replica.</summary>
    private void Leave(ReplicaConnection? connection, int failedIndex, int leaderHint)
    {
        lock (_gate)
        {
            if (connection is not null && !ReferenceEquals(_connection, connection))
            {
                return; // Another operation moved on already.
            }

            _connection = null;
            _preferred = leaderHint >= 0 && _endpointOfReplica.TryGetValue(leaderHint, out var leader) && leader != failedIndex
                ? leader
                : (failedIndex + 1) % _replicas.Length;
        }

        if (connection is not null)
        {
            _ = connection.DisposeAsync().AsTask();
        }
    }

    private static bool IsError(Answer reply, out WireError error)
    {
        error = default;
        return reply.Type == FrameType.Error && WireMessages.TryReadError(reply.Body, out error);
    }

    /// <summary>Whether an error may pass: another replica, or the same one later, may answer.</summary>
    private static bool IsPassing(WireErrorCode code) => code is WireErrorCode.Overloaded or WireErrorCode.Stopped or WireErrorCode.Faulted
        or WireErrorCode.Timeout or WireErrorCode.Unavailable;

    private static PaxosClientException Refused(WireError error, bool mayHaveExecuted) => new(
        error.Code == WireErrorCode.UpdateTooLarge ? PaxosClientFailure.TooLarge : PaxosClientFailure.Rejected,
        mayHaveExecuted,
        "The replica refused the request: " + Describe(error));

    private static string Describe(WireError error) =>
        Say($"{error.Code}: {error.Message}{(error.LeaderHint >= 0 ? Say($" (leader hint: replica {error.LeaderHint})") : string.Empty)}");

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>One update being submitted, and what is known of its fate.</summary>
    private sealed class Submission(ReadOnlyMemory<byte> payload)
    {
        private bool _mayHaveExecuted;

        public ReadOnlyMemory<byte> Payload { get; } = payload;

        /// <summary>Whether some attempt's request went out (and so may have reached a replica and executed).</summary>
        public bool MayHaveExecuted
        {
            get => _mayHaveExecuted;
            set
            {
                EarlierAttemptMayHaveExecuted = _mayHaveExecuted;
                _mayHaveExecuted = value;
            }
        }

        /// <summary>Whether an attempt before the latest one went out.</summary>
        public bool EarlierAttemptMayHaveExecuted { get; private set; }
    }

    /// <summary>The attempts of one operation: which connection they use, and the pause after a round of failures.</summary>
    private sealed class Attempts(PaxosClient client)
    {
        private int _failures;
        private TimeSpan _delay = client._options.RetryDelay;

        public Exception? LastFailure { get; private set; }

        /// <summary>One attempt: the answer, or null after a failure that was handled (the caller tries again).</summary>
        public async Task<Answer?> RequestAsync(Func<ulong, byte[]> build, CancellationToken cancellationToken, Action? onSent = null)
        {
            ReplicaConnection? connection = null;
            await client._inFlight.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                connection = await client.ConnectionAsync(cancellationToken).ConfigureAwait(false);
                onSent?.Invoke();
                return await connection!.RequestAsync(build, client._options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException exception)
            {
                var index = connection?.EndpointIndex ?? Volatile.Read(ref client._preferred);
                await FailedAsync(exception, -1, connection, index, cancellationToken).ConfigureAwait(false);
                return null;
            }
            finally
            {
                client._inFlight.Release();
            }
        }

        /// <summary>The replica answered with something that is not an answer to this request: leave it.</summary>
        public Task BrokenAsync(Answer reply, CancellationToken cancellationToken) =>
            FailedAsync(new IOException(Say($"The replica answered with an unexpected {reply.Type} frame.")), -1, cancellationToken);

        /// <summary>Moves on from the current replica (to the hinted leader if known), pausing after every round.</summary>
        public Task FailedAsync(Exception failure, int leaderHint, CancellationToken cancellationToken)
        {
            ReplicaConnection? current;
            lock (client._gate)
            {
                current = client._connection;
            }

            return FailedAsync(failure, leaderHint, current, current?.EndpointIndex ?? client._preferred, cancellationToken);
        }

        private async Task FailedAsync(Exception failure, int leaderHint, ReplicaConnection? connection, int index, CancellationToken cancellationToken)
        {
            LastFailure = failure;
            client.Leave(connection, index, leaderHint);
            if (++_failures % client._replicas.Length == 0)
            {
                await Task.Delay(_delay, cancellationToken).ConfigureAwait(false);
                _delay = TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, client._options.MaxRetryDelay.Ticks));
            }
        }
    }
}
