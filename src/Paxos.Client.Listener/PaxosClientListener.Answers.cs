using Paxos.Client.Wire;

namespace Paxos.Client.Listener;

public sealed partial class PaxosClientListener
{
    /// <summary>The answer frame to one request: its result, or an error that says why (never an exception).</summary>
    private async Task<byte[]> AnswerAsync(Request request, bool authenticated, CancellationToken stopping)
    {
        Interlocked.Increment(ref _requests);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(_options.RequestTimeout);
        try
        {
            switch (request.Type)
            {
                case FrameType.OpenSession when request.First <= 0:
                    return Error(request, WireErrorCode.BadRequest, "The registration nonce must be positive.", authenticated);
                case FrameType.OpenSession:
                    var session = await _replica.RegisterSessionAsync(request.First, deadline.Token).ConfigureAwait(false);
                    return WireMessages.SessionOpened(request.RequestId, session.Value, authenticated);
                case FrameType.Submit when request.First <= 0 || request.Second <= 0:
                    return Error(request, WireErrorCode.BadRequest, "The session id and the sequence must be positive.", authenticated);
                case FrameType.Submit:
                    var update = new ClientUpdate(new ClientId(request.First), request.Second, request.Bytes);
                    var reply = await _replica.SubmitAsync(update, deadline.Token).ConfigureAwait(false);
                    return WireMessages.Bytes(FrameType.Executed, request.RequestId, reply.Span, authenticated);
                case FrameType.Read:
                    var result = await _replica.ReadAsync(request.Bytes, deadline.Token).ConfigureAwait(false);
                    return WireMessages.Bytes(FrameType.ReadResult, request.RequestId, result.Span, authenticated);
                default:
                    var status = _replica.Status;
                    return WireMessages.StatusReply(request.RequestId, new WireStatus(status.Id.Value, status.Leader.Value, (WireReplicaState)status.State), authenticated);
            }
        }
        catch (PaxosSubmitException exception) when (exception.Reason == SubmitFailure.Rejected)
        {
            // A definite answer, not a failure: the executor rejected the update at every replica alike.
            return WireMessages.Bytes(FrameType.Rejected, request.RequestId, exception.Error.Span, authenticated);
        }
        catch (PaxosSubmitException exception)
        {
            return Error(request, CodeOf(exception.Reason), exception.Message, authenticated, exception.LeaderHint?.Value ?? -1);
        }
        catch (PaxosReadException exception)
        {
            return Error(request, CodeOf(exception.Reason), exception.Message, authenticated, exception.LeaderHint?.Value ?? -1);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return Error(request, WireErrorCode.Stopped, "The replica's client listener is stopping.", authenticated);
        }
        catch (OperationCanceledException)
        {
            return Error(request, WireErrorCode.Timeout, $"No answer within {_options.RequestTimeout.TotalMilliseconds:0} ms; an update may still execute. Retry it under the same session and sequence.", authenticated);
        }
        catch (Exception exception)
        {
            // A failure the replica does not classify (for example a read that found no quorum): another replica may do
            // better. Logged, because it may be a bug.
            ListenerLog.RequestFailed(_logger, _replica.Status.Id.Value, request.Type.ToString(), exception);
            return Error(request, WireErrorCode.Unavailable, exception.Message, authenticated);
        }
    }

    private static WireErrorCode CodeOf(SubmitFailure reason) => reason switch
    {
        SubmitFailure.Overloaded => WireErrorCode.Overloaded,
        SubmitFailure.UpdateTooLarge => WireErrorCode.UpdateTooLarge,
        SubmitFailure.Stale => WireErrorCode.Stale,
        SubmitFailure.Superseded => WireErrorCode.Superseded,
        SubmitFailure.Stopped => WireErrorCode.Stopped,
        SubmitFailure.Faulted => WireErrorCode.Faulted,
        SubmitFailure.SessionExpired => WireErrorCode.SessionExpired,
        SubmitFailure.TimedOut => WireErrorCode.Timeout,
        SubmitFailure.OutOfOrder => WireErrorCode.OutOfOrder,
        _ => WireErrorCode.Unavailable,
    };

    /// <summary>A read that failed at this replica may succeed at another (no leader known here, a leader change, a
    /// timeout), except when the application cannot serve it.</summary>
    private static WireErrorCode CodeOf(ReadFailure reason) => reason switch
    {
        ReadFailure.Overloaded => WireErrorCode.Overloaded,
        ReadFailure.Timeout => WireErrorCode.Timeout,
        ReadFailure.Stopped => WireErrorCode.Stopped,
        ReadFailure.Faulted => WireErrorCode.Faulted,
        ReadFailure.NotSupported => WireErrorCode.ReadsNotSupported,
        ReadFailure.ReadFailed => WireErrorCode.ReadFailed,
        _ => WireErrorCode.Unavailable,
    };

    private byte[] Error(Request request, WireErrorCode code, string message, bool authenticated, int leaderHint = int.MinValue)
    {
        Interlocked.Increment(ref _errors);
        var hint = leaderHint == int.MinValue ? _replica.Status.Leader.Value : leaderHint;
        return WireMessages.Error(request.RequestId, code, hint, message, authenticated);
    }
}
