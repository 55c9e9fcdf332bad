using System.Globalization;
using Paxos.Hosting;
using Paxos.Protocol;

namespace Paxos;

// Linearizable reads (docs/protocol-notes.md, "Linearizable reads"): the replica decides when a read may be served; the
// loop runs the query against the executor right then, on its own thread, between two executions.
public sealed partial class PaxosNode
{
    /// <summary>The reads handed to the replica and not yet answered, by the id the table gave each; the loop's only.
    /// Made by the constructor.</summary>
    private readonly PendingReadTable _pendingReads;

    /// <summary>Reads posted and not yet taken by the loop (beside <see cref="_inbox"/>, which holds everything else).
    /// Made by the constructor.</summary>
    private readonly ReadInbox _readInbox;

    /// <summary>
    /// Answers a query against the executor's state without ordering it, linearizably: the answer reflects every update
    /// whose reply reached any client before this call (and possibly later ones). At the leader, the read waits for a
    /// majority to confirm that it still leads and for execution through its read index; at another replica, for the
    /// leader's read index and its own execution through it. The executor must implement <see cref="IReadExecutor"/>.
    /// </summary>
    /// <param name="query">The application's query, passed to <see cref="IReadExecutor.Read"/>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The executor's answer.</returns>
    /// <exception cref="PaxosReadException">The read failed; see <see cref="PaxosReadException.Reason"/>. It fails with
    /// <see cref="ReadFailure.Timeout"/> after <see cref="PaxosOptions.ReadTimeout"/>.</exception>
    public Task<ReadOnlyMemory<byte>> ReadAsync(ReadOnlyMemory<byte> query, CancellationToken cancellationToken = default)
    {
        if (_executor is not IReadExecutor)
        {
            return Task.FromException<ReadOnlyMemory<byte>>(ReadError(ReadFailure.NotSupported,
                $"The executor ({_executor.GetType().Name}) does not implement {nameof(IReadExecutor)}."));
        }

        switch (_nodeState)
        {
            case NodeState.Faulted:
                return Task.FromException<ReadOnlyMemory<byte>>(ReadError(ReadFailure.Faulted, "The node stopped after a failure."));
            case NodeState.Created:
            case NodeState.Stopped:
                return Task.FromException<ReadOnlyMemory<byte>>(ReadError(ReadFailure.Stopped, "The node is not running."));
            default:
                break;
        }

        var read = new PendingRead(query);
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the post, so that the loop's answer finds the registration to release. The replica may
            // still answer a read cancelled later; its answer then finds the task completed and is dropped.
            read.CancelWith(cancellationToken);
            if (read.Task.IsCompleted)
            {
                return read.Task; // Cancelled already: never posted.
            }
        }

        switch (_readInbox.TryPost(read))
        {
            case ReadPost.Posted:
                if (_inline?.TryWakeAfterDelivery() != true)
                {
                    Wake(runHere: false);
                }

                break;
            case ReadPost.Full:
                read.ReleaseCancellation();
                return Task.FromException<ReadOnlyMemory<byte>>(_nodeState == NodeState.Running
                    ? ReadError(ReadFailure.Overloaded, "The node's inbox is full.")
                    : ReadError(ReadFailure.Stopped, "The node is not running."));
            default:
                FailReadsPostedAfterStop();
                break;
        }

        return read.Task;
    }

    /// <summary>Fails the reads left in the read inbox by posts that raced with the node's stop (which fails those it
    /// finds), this one's among them. On the thread pool: their callers' continuations must not run inside a
    /// <see cref="ReadAsync"/> call.</summary>
    private void FailReadsPostedAfterStop()
    {
        var left = _readInbox.TakeAll();
        if (left.Count == 0)
        {
            return;
        }

        var reason = _nodeState == NodeState.Faulted ? ReadFailure.Faulted : ReadFailure.Stopped;
        var completions = new List<Completion>(left.Count);
        foreach (var read in left)
        {
            completions.Add(new(read, default, ReadError(reason, reason == ReadFailure.Faulted ? "The node stopped after a failure." : "The node stopped.")));
        }

        ThreadPool.UnsafeQueueUserWorkItem(static work => work.Node.Complete(work.Completions), (Node: this, Completions: completions), preferLocal: false);
    }

    /// <summary>Hands a read to the replica (on the loop).</summary>
    private void OnRead(ReplicaDriver driver, PendingRead read)
    {
        driver.RequestRead(new ReadRequestId(_pendingReads.Add(read)));
    }

    /// <summary>Runs the queries of the reads the replica made ready, and fails those it gave up on (on the loop, as the
    /// batch is taken: the executor has executed through every ready read's index).</summary>
    private void OnReads(OutputBatch batch)
    {
        var reader = (IReadExecutor)_executor;
        var ready = batch.ReadsReady;
        for (var i = 0; i < ready.Count; i++) // Not foreach: that boxes the list's enumerator on every batch.
        {
            if (!_pendingReads.Remove(ready[i].Value, out var read) || read.Task.IsCompleted)
            {
                continue;
            }

            try
            {
                var answer = reader.Read(read.Query.Span);
                _completions.Add(new(read, answer, null));
            }
            catch (Exception exception)
            {
                _completions.Add(new(read, default, ReadError(ReadFailure.ReadFailed, "The executor's Read threw.", exception)));
            }
        }

        var failures = batch.ReadsFailed;
        for (var i = 0; i < failures.Count; i++)
        {
            var failed = failures[i];
            if (_pendingReads.Remove(failed.Id.Value, out var read))
            {
                _completions.Add(new(read, default, ReadError(failed.Reason, Describe(failed.Reason))));
            }
        }
    }

    /// <summary>Fails every read waiting in the read inbox or in the replica (the node stops or faulted). Readers that
    /// post from now on find the read inbox closed, and fail what they find left in it themselves.</summary>
    private void FailAllReads(ReadFailure reason, string message, Exception? cause)
    {
        _readInbox.Close();
        foreach (var read in _readInbox.TakeAll())
        {
            _completions.Add(new(read, default, ReadError(reason, message, cause)));
        }

        foreach (var read in _pendingReads.TakeAll())
        {
            _completions.Add(new(read, default, ReadError(reason, message, cause)));
        }
    }

    private string Describe(ReadFailure reason) => reason switch
    {
        ReadFailure.NotLeader => string.Create(CultureInfo.InvariantCulture, $"Replica {Id} left the view its read was confirmed in (a view change); retry."),
        ReadFailure.LeaderUnknown => string.Create(CultureInfo.InvariantCulture, $"Replica {Id} knows no working leader (a view change is under way); retry later."),
        ReadFailure.Timeout => string.Create(CultureInfo.InvariantCulture, $"The read was not served within {_options.ReadTimeout} ({nameof(PaxosOptions.ReadTimeout)})."),
        ReadFailure.Overloaded => string.Create(CultureInfo.InvariantCulture, $"Replica {Id} holds {_options.MaxPendingReads} pending reads already ({nameof(PaxosOptions.MaxPendingReads)})."),
        _ => reason.ToString(),
    };

    private PaxosReadException ReadError(ReadFailure reason, string message, Exception? cause = null)
    {
        var leader = _status.Value.State == ReplicaState.LeaderElection ? (ReplicaId?)null : _status.Value.Leader;
        return new PaxosReadException(reason, leader, message, cause);
    }
}
