using System.Net.Sockets;
using Paxos.Client.Wire;

namespace Paxos.Client.Listener;

public sealed partial class PaxosClientListener
{
    /// <summary>Why a connection ended, for the counters and the log.</summary>
    private enum Ending
    {
        ClientClosed,
        Stopping,
        Malformed,
        Unauthenticated,
        Idle,
        Failed,
    }

    /// <summary>One client connection: a reader that checks and decodes each frame, and a task per request (at most
    /// <see cref="PaxosClientListenerOptions.MaxInFlightPerConnection"/> at once) that answers it.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The semaphore never creates a wait handle (nothing reads AvailableWaitHandle), so it holds nothing to dispose; answers still running may release it after the connection ended.")]
    private sealed class Connection
    {
        private readonly PaxosClientListener _listener;
        private readonly long _id;
        private readonly string _remote;
        private readonly SemaphoreSlim _inFlight;

        public Connection(PaxosClientListener listener, long id, Socket socket)
        {
            _listener = listener;
            _id = id;
            _remote = socket.RemoteEndPoint?.ToString() ?? "?";
            _inFlight = new SemaphoreSlim(listener._options.MaxInFlightPerConnection, listener._options.MaxInFlightPerConnection);
            Wire = new WireConnection(new NetworkStream(socket, ownsSocket: true), listener._options.MaxFrameBytes, listener._key.Length > 0);
        }

        public WireConnection Wire { get; }

        public Task Served { get; set; } = Task.CompletedTask;

        private bool Authenticated => _listener._key.Length > 0;

        public async Task ServeAsync()
        {
            var ending = Ending.ClientClosed;
            var detail = string.Empty;
            var stopping = _listener._stopping.Token;
            try
            {
                ending = await ReadRequestsAsync(stopping).ConfigureAwait(false);
            }
            catch (WireProtocolException exception)
            {
                (ending, detail) = (Ending.Malformed, exception.Message);
            }
            catch (WireAuthenticationException exception)
            {
                (ending, detail) = (Ending.Unauthenticated, exception.Message);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                ending = Ending.Stopping;
            }
            catch (OperationCanceledException)
            {
                (ending, detail) = (Ending.Idle, "it sent nothing for " + _listener._options.IdleTimeout);
            }
            catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException)
            {
                ending = stopping.IsCancellationRequested ? Ending.Stopping : Ending.ClientClosed;
            }
            catch (Exception exception)
            {
                (ending, detail) = (Ending.Failed, exception.ToString()); // A bug here: this connection ends, the rest go on.
            }
            finally
            {
                await Wire.DisposeAsync().ConfigureAwait(false);
                _listener.Forget(_id);
            }

            Count(ending, detail);
        }

        private void Count(Ending ending, string detail)
        {
            ref var counter = ref _listener._malformed;
            switch (ending)
            {
                case Ending.Malformed:
                    break;
                case Ending.Unauthenticated:
                    counter = ref _listener._unauthenticated;
                    break;
                case Ending.Idle:
                    counter = ref _listener._idle;
                    break;
                case Ending.Failed:
                    ListenerLog.Closed(_listener._logger, _listener._replica.Status.Id.Value, _remote, detail);
                    return;
                default:
                    return;
            }

            Interlocked.Increment(ref counter);
            ListenerLog.Closed(_listener._logger, _listener._replica.Status.Id.Value, _remote, $"{ending}: {detail}");
        }

        /// <summary>Shakes hands, then reads requests until the client closes the connection.</summary>
        private async Task<Ending> ReadRequestsAsync(CancellationToken stopping)
        {
            var status = _listener._replica.Status;
            using (var handshake = Deadline(stopping))
            {
                if (!await Wire.AcceptHelloAsync(_listener._key, status.Id.Value, status.Leader.Value, handshake.Token).ConfigureAwait(false))
                {
                    return Ending.ClientClosed;
                }
            }

            while (true)
            {
                ReceivedFrame frame;
                using (var idle = Deadline(stopping))
                {
                    if (await Wire.ReceiveAsync(idle.Token).ConfigureAwait(false) is not { } received)
                    {
                        return Ending.ClientClosed;
                    }

                    frame = received;
                }

                var request = Decode(frame);

                // Backpressure: with the most requests in flight, stop reading until one is answered.
                await _inFlight.WaitAsync(stopping).ConfigureAwait(false);
                _ = AnswerAsync(request, stopping);
            }
        }

        private CancellationTokenSource Deadline(CancellationToken stopping)
        {
            var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            deadline.CancelAfter(_listener._options.IdleTimeout);
            return deadline;
        }

        /// <summary>Checks a request frame's fields and copies what outlives the reader's buffer.</summary>
        /// <exception cref="WireProtocolException">The frame is not a request or its body does not fit its type.</exception>
        private static Request Decode(ReceivedFrame frame)
        {
            switch (frame.Type)
            {
                case FrameType.OpenSession when WireMessages.TryReadLong(frame.Body.Span, out var nonce):
                    return new Request(frame.Type, frame.RequestId, nonce, 0, default);
                case FrameType.Submit when WireMessages.TryReadSubmit(frame.Body, out var session, out var sequence, out var payload):
                    return new Request(frame.Type, frame.RequestId, session, sequence, payload.ToArray());
                case FrameType.Read:
                    return new Request(frame.Type, frame.RequestId, 0, 0, frame.Body.ToArray());
                case FrameType.Status when frame.Body.IsEmpty:
                    return new Request(frame.Type, frame.RequestId, 0, 0, default);
                default:
                    throw new WireProtocolException(WireFormat.IsRequest(frame.Type) && frame.Type != FrameType.Hello
                        ? $"A {frame.Type} frame with a body of {frame.Body.Length} bytes, which does not fit its type."
                        : $"A {frame.Type} frame, which a client does not send here.");
            }
        }

        private async Task AnswerAsync(Request request, CancellationToken stopping)
        {
            try
            {
                var answer = await _listener.AnswerAsync(request, Authenticated, stopping).ConfigureAwait(false);
                await Wire.SendAsync(answer, stopping).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The connection closed, or the listener is stopping: the reader ends the connection.
            }
            finally
            {
                _inFlight.Release();
            }
        }
    }

    /// <summary>A decoded request: the ids or the nonce, and the payload or query copied out of the reader's buffer.</summary>
    private readonly record struct Request(FrameType Type, ulong RequestId, long First, long Second, ReadOnlyMemory<byte> Bytes);
}
