namespace Paxos.Hosting;

/// <summary>
/// Delivery of a node's answers on the thread that ran its turn, built only with
/// <see cref="PaxosOptions.UnsafePreferInlineCompletions"/>. Callers that submit their next update from the
/// continuation (the common closed loop) find the loop woken once, after every answer of the delivery is out: one
/// turn then proposes all their updates together, on this thread, instead of the first submission waking a pool
/// thread for a Proposal of its own while the rest are still being answered. Their submissions are also held back
/// until then (staged) and enter the inbox as one input: a turn that another thread runs meanwhile (the receive
/// thread's, for a peer's message) would otherwise take the first few and propose them alone. On a 64-writer UDP load
/// that split half of the leader's batches in two (see docs/performance.md).
/// </summary>
/// <remarks>The option's callers promise continuations that never block; one that does must still not hang the node,
/// so the loop takes up submissions held back for two turns of the clock (<see cref="ApplyOpenStagings"/>).</remarks>
internal sealed class InlineCompletions(PaxosNode node, int maxStaged)
{
    /// <summary>How deeply answers delivered on the loop's thread may nest (a delivery wakes a turn, whose answers
    /// are delivered, ...) before the next ones go to the thread pool instead.</summary>
    private const int MaxDepth = 4;

    /// <summary>The node whose answers this thread is delivering, if any.</summary>
    [ThreadStatic]
    private static InlineCompletions? t_delivering;

    /// <summary>Whether a submission to <see cref="t_delivering"/> left waking the loop to the end of the delivery.</summary>
    [ThreadStatic]
    private static bool t_wakeAfterDelivery;

    /// <summary>Deliveries running on this thread, one inside another.</summary>
    [ThreadStatic]
    private static int t_depth;

    /// <summary>The submissions made by the continuations of the delivery running on this thread (created with the
    /// first of them): they enter the inbox together when the delivery ends.</summary>
    [ThreadStatic]
    private static Staging? t_staging;

    /// <summary>Deliveries' held-back submissions not yet posted. Locked by <see cref="_gate"/>; each entry by
    /// itself.</summary>
    private readonly List<Staging> _open = [];
    private readonly Lock _gate = new();

    /// <summary>Held-back submissions not yet handed to the replica, staged or in the inbox: bounded as the inbox
    /// bounds the others.</summary>
    private long _staged;

    /// <summary>Set once the node stopped or faulted: nothing is held back any more. Written under <see cref="_gate"/>
    /// before the open stagings are failed; read under the gate or a staging's lock.</summary>
    private bool _closed;

    /// <summary>Whether this thread may deliver a turn's answers itself (deliveries do not nest too deeply here).</summary>
    public static bool MayDeliverHere => t_depth < MaxDepth;

    /// <summary>Whether this thread is delivering this node's answers: a submission made now is held back.</summary>
    public bool IsDeliveringHere => ReferenceEquals(t_delivering, this);

    /// <summary>Delivers answers on this thread, holding back what their continuations submit to this node until the
    /// end, then waking the loop once.</summary>
    public void Deliver(List<Completion> completions)
    {
        var previous = t_delivering;
        var previousWake = t_wakeAfterDelivery;
        var previousStaging = t_staging;
        t_delivering = this;
        t_wakeAfterDelivery = false;
        t_staging = null;
        t_depth++;
        try
        {
            node.Complete(completions);
            t_delivering = previous;
            PostHeldBack(); // Before the wake-up, so that the turn it starts finds them.
            if (t_wakeAfterDelivery)
            {
                t_wakeAfterDelivery = false;
                node.Wake(runHere: true);
            }
        }
        finally
        {
            PostHeldBack(); // A continuation threw out of the delivery: its submissions still count.
            t_delivering = previous;
            t_wakeAfterDelivery = previousWake;
            t_staging = previousStaging;
            t_depth--;
        }
    }

    /// <summary>Holds back a submission made during a delivery of this node's answers; null when it is, else why it
    /// cannot be: as many are held back already as the inbox holds (Overloaded), or the node stopped or faulted.</summary>
    public SubmitFailure? TryStage(NodeInput submission)
    {
        if (Interlocked.Increment(ref _staged) > maxStaged)
        {
            Interlocked.Decrement(ref _staged);
            return SubmitFailure.Overloaded;
        }

        var staging = t_staging;
        if (staging is null)
        {
            staging = new Staging(node.ClockTurns);
            lock (_gate)
            {
                if (_closed)
                {
                    Interlocked.Decrement(ref _staged);
                    return node.StoppedReason();
                }

                _open.Add(staging);
            }

            t_staging = staging;
        }

        lock (staging)
        {
            if (_closed)
            {
                Interlocked.Decrement(ref _staged);
                return node.StoppedReason();
            }

            staging.Items.Add(submission);
        }

        t_wakeAfterDelivery = true;
        return null;
    }

    /// <summary>During a delivery of this node's answers on this thread, leaves waking the loop for an input just posted
    /// (a read) to the end of the delivery, so that one turn takes what all its continuations posted; false when this
    /// thread is not delivering, and the caller wakes the loop itself. A continuation that blocks does not hang the
    /// input: it is in the inbox already, where any turn takes it (the clock's next one at the latest).</summary>
    public bool TryWakeAfterDelivery()
    {
        if (!IsDeliveringHere)
        {
            return false;
        }

        t_wakeAfterDelivery = true;
        return true;
    }

    /// <summary>Counts submissions handed to the replica (they are no longer held back).</summary>
    public void Applied(int count) => Interlocked.Add(ref _staged, -count);

    /// <summary>Takes up the submissions that deliveries on other threads have held back for two turns of the clock
    /// or more, so that a continuation that blocks gets its own submission answered. Two, not one: a delivery that
    /// merely began just before a tick is not split by it; and turns, not ticks: ticks a late loop piled up would age
    /// a delivery that began a moment ago, and take its submissions ahead of earlier ones still in the inbox.</summary>
    public void ApplyOpenStagings(long clockTurns, Action<List<NodeInput>> apply)
    {
        lock (_gate)
        {
            foreach (var staging in _open)
            {
                if (clockTurns - staging.StartedAtTurn < 2)
                {
                    continue;
                }

                lock (staging)
                {
                    apply(staging.Items);
                    staging.Items.Clear();
                }
            }
        }
    }

    /// <summary>Fails every held-back submission, and holds back none from now on (the node stopped or faulted).</summary>
    public void Close(Action<TaskCompletionSource<ReadOnlyMemory<byte>>> fail)
    {
        lock (_gate)
        {
            _closed = true;
            foreach (var staging in _open)
            {
                lock (staging)
                {
                    foreach (var staged in staging.Items)
                    {
                        fail(staged.Completion!);
                    }

                    staging.Items.Clear();
                }
            }

            _open.Clear();
        }
    }

    /// <summary>At the end of a delivery: its held-back submissions enter the inbox as one input (those a clock
    /// tick's turn took up meanwhile are gone from it). Refused by a full or closed inbox, they fail at once.</summary>
    private void PostHeldBack()
    {
        if (t_staging is not { } staging)
        {
            return;
        }

        t_staging = null;
        lock (_gate)
        {
            _open.Remove(staging);
        }

        List<NodeInput> items;
        lock (staging)
        {
            items = staging.Items;
            staging.Items = [];
        }

        if (items.Count == 0 || node.TryPost(new NodeInput(null, null, null, items)))
        {
            return;
        }

        Interlocked.Add(ref _staged, -items.Count);
        node.Refuse(items);
    }

    /// <summary>The submissions one delivery holds back; locked by itself.</summary>
    /// <param name="startedAtTurn">The node's clock turns when the first was held back.</param>
    private sealed class Staging(long startedAtTurn)
    {
        public long StartedAtTurn { get; } = startedAtTurn;

        public List<NodeInput> Items { get; set; } = [];
    }
}
