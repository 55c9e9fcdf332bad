using System.Runtime.InteropServices;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Hosting;

/// <summary>
/// Who waits for which update: the tasks <see cref="PaxosNode.SubmitAsync"/> returned, by (client id, timestamp),
/// until the replica answers the update. Written by the node's loop (add, answer, fail) and by a cancelled submission
/// removing itself; locked by one gate, never while a task completes, so no caller's code runs under it.
/// </summary>
internal sealed class SubmissionTable
{
    /// <summary>How many submissions of one (client id, timestamp) may wait for its answer at once. A client that
    /// re-submits while the update is pending is retrying, and a few retries in flight are plenty; more are refused
    /// with <see cref="SubmitFailure.Overloaded"/> so a retry loop cannot grow the table without bound.</summary>
    public const int MaxWaitersPerUpdate = 16;

    private readonly Dictionary<(ClientId Client, long Timestamp), Waiters> _waiters = [];
    private readonly Lock _gate = new();

    /// <summary>Submissions waiting for an answer, over every update.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                var count = 0;
                foreach (var waiters in _waiters.Values)
                {
                    count += 1 + (waiters.More?.Count ?? 0);
                }

                return count;
            }
        }
    }

    /// <summary>Makes <paramref name="completion"/> wait for the update <paramref name="key"/> names; false when
    /// <see cref="MaxWaitersPerUpdate"/> submissions of it wait already. A submission cancelled before the loop got
    /// to it is not added (its cancellation found nothing to remove).</summary>
    public bool TryAdd((ClientId, long) key, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        lock (_gate)
        {
            if (completion.Task.IsCompleted)
            {
                return true;
            }

            ref var waiters = ref CollectionsMarshal.GetValueRefOrAddDefault(_waiters, key, out var exists);
            if (!exists)
            {
                waiters = new Waiters(completion, null);
                return true;
            }

            if (1 + (waiters.More?.Count ?? 0) >= MaxWaitersPerUpdate)
            {
                return false;
            }

            (waiters.More ??= []).Add(completion); // The same update submitted again while it waits.
            return true;
        }
    }

    /// <summary>Takes a cancelled submission out of the table, so that cancelled retries do not pile up.</summary>
    public void Remove((ClientId, long) key, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        lock (_gate)
        {
            if (!_waiters.TryGetValue(key, out var waiters))
            {
                return;
            }

            if (!ReferenceEquals(waiters.First, completion))
            {
                waiters.More?.Remove(completion);
            }
            else if (waiters.More is { Count: > 0 } more)
            {
                var next = more[0];
                more.RemoveAt(0);
                _waiters[key] = new Waiters(next, more);
            }
            else
            {
                _waiters.Remove(key);
            }
        }
    }

    /// <summary>Takes out the submissions each reply answers and adds their answers to <paramref name="into"/>.</summary>
    /// <param name="replies">The replica's replies.</param>
    /// <param name="into">Where the answers go, to be delivered later (outside the lock).</param>
    /// <param name="notExecuted">Makes the error of a reply whose update did not execute (superseded or expired).</param>
    public void Answer(IReadOnlyList<ClientReply> replies, List<Completion> into, Func<ClientReply, Exception> notExecuted)
    {
        lock (_gate)
        {
            foreach (var reply in replies)
            {
                if (!_waiters.Remove((reply.ClientId, reply.Timestamp), out var waiters))
                {
                    continue;
                }

                var error = reply.Status == ReplyStatus.Executed ? null : notExecuted(reply);
                into.Add(new(waiters.First, reply.Result, error));
                foreach (var completion in waiters.More ?? [])
                {
                    into.Add(new(completion, reply.Result, error));
                }
            }
        }
    }

    /// <summary>Empties the table, handing every waiting submission to <paramref name="fail"/>.</summary>
    public void FailAll(Action<TaskCompletionSource<ReadOnlyMemory<byte>>> fail)
    {
        lock (_gate)
        {
            foreach (var waiters in _waiters.Values)
            {
                fail(waiters.First);
                foreach (var completion in waiters.More ?? [])
                {
                    fail(completion);
                }
            }

            _waiters.Clear();
        }
    }

    /// <summary>Who waits for one update: almost always one caller; <see cref="More"/> only when the same update was
    /// submitted again before it executed.</summary>
    private record struct Waiters(TaskCompletionSource<ReadOnlyMemory<byte>> First, List<TaskCompletionSource<ReadOnlyMemory<byte>>>? More);
}

/// <summary>An answer to deliver to a submission: a result, or an error.</summary>
internal readonly record struct Completion(TaskCompletionSource<ReadOnlyMemory<byte>> Source, ReadOnlyMemory<byte> Result, Exception? Error);

/// <summary>One input of a node's loop: a peer's message, a submission (its update and its task), or the
/// submissions one delivery held back (<c>Staged</c>, each a submission). Reads have an inbox of their own (<see cref="ReadInbox"/>).</summary>
internal readonly record struct NodeInput(PaxosMessage? Message, ClientUpdate? Update, TaskCompletionSource<ReadOnlyMemory<byte>>? Completion, List<NodeInput>? Staged = null);
