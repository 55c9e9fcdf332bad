using System.Collections.Concurrent;

namespace Paxos.Hosting;

/// <summary>What became of a read posted to a <see cref="ReadInbox"/>.</summary>
internal enum ReadPost
{
    /// <summary>Queued for the loop.</summary>
    Posted,

    /// <summary>Refused: as many reads as the inbox holds wait already.</summary>
    Full,

    /// <summary>Queued after the node closed the inbox (it stopped or faulted meanwhile): whoever posted it must fail
    /// what is left (<see cref="ReadInbox.TakeAll"/>), as the stop may have emptied the inbox before it came.</summary>
    Closed,
}

/// <summary>
/// The reads posted to a node and not yet taken by its loop, beside its inbox rather than in it: a lock-free queue,
/// so that many readers posting and the loop taking do not spin on one lock, as they did on the inbox's with every
/// read (readers in a closed loop post as fast as the loop answers). Bounded like the inbox.
/// </summary>
/// <param name="capacity">The most reads that may wait; more are refused.</param>
internal sealed class ReadInbox(int capacity)
{
    private readonly ConcurrentQueue<PendingRead> _queue = new();

    /// <summary>Reads posted and not yet taken (counted before they are queued, so never fewer than are queued).</summary>
    private int _count;

    /// <summary>Set once by the node's stop or fault, before it takes what is left.</summary>
    private volatile bool _closed;

    /// <summary>How many reads wait; an estimate while readers post.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Whether no read waits (any thread; a read posted before this call is seen).</summary>
    public bool IsEmpty => _queue.IsEmpty;

    /// <summary>Queues a read, unless the inbox is full; see <see cref="ReadPost"/>.</summary>
    public ReadPost TryPost(PendingRead read)
    {
        if (Interlocked.Increment(ref _count) > capacity)
        {
            Interlocked.Decrement(ref _count);
            return ReadPost.Full;
        }

        // The queue's interlocked write comes before the look at the flag, and the stop's write of the flag before its
        // look at the queue: one of the two sees the other, so no read is left behind unanswered.
        _queue.Enqueue(read);
        return _closed ? ReadPost.Closed : ReadPost.Posted;
    }

    /// <summary>Takes the oldest waiting read (the loop). Call <see cref="Taken"/> with how many were taken once done.</summary>
    public bool TryTake([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PendingRead? read) => _queue.TryDequeue(out read);

    /// <summary>Counts reads taken with <see cref="TryTake"/>: one write for a whole drain.</summary>
    public void Taken(int reads) => Interlocked.Add(ref _count, -reads);

    /// <summary>Closes the inbox (the node stopped or faulted): readers that post from now on are told so.</summary>
    public void Close()
    {
        _closed = true;
        Interlocked.MemoryBarrier();
    }

    /// <summary>Takes every waiting read; any thread, and more than one at once (each read is taken once).</summary>
    public List<PendingRead> TakeAll()
    {
        var all = new List<PendingRead>();
        while (_queue.TryDequeue(out var read))
        {
            all.Add(read);
        }

        Taken(all.Count);
        return all;
    }
}
