using System.Runtime.CompilerServices;
using Paxos.Protocol;

namespace Paxos.Tests.Protocol;

/// <summary>
/// <see cref="GlobalHistory"/> releases its prefix in whole chunks and reuses them: a reused chunk reads as empty, a
/// released slot reads as ordered, and neither the chunk list nor the spare chunks grow with uptime.
/// </summary>
public class GlobalHistoryTests
{
    private const int ChunkSlots = 4096;

    private static readonly ClientUpdate Update = new(new ClientId(1), 1, new byte[] { 7 });

    [Test]
    public void Slots_read_back_what_was_written_across_chunks()
    {
        var history = new GlobalHistory();
        foreach (var sequence in new long[] { 1, ChunkSlots - 1, ChunkSlots, (3 * ChunkSlots) + 5 })
        {
            ref var slot = ref history.At(sequence);
            slot.ProposalView = sequence;
        }

        history.Peek(ChunkSlots).ProposalView.Should().Be(ChunkSlots);
        history.Peek((3 * ChunkSlots) + 5).ProposalView.Should().Be((3 * ChunkSlots) + 5);
        history.Peek(2 * ChunkSlots).IsEmpty.Should().BeTrue("nothing was written in the third chunk");
        history.Highest.Should().Be((3 * ChunkSlots) + 5);
    }

    [Test]
    public void Released_slots_read_as_ordered_and_later_slots_survive()
    {
        var history = new GlobalHistory();
        for (long sequence = 1; sequence <= 3 * ChunkSlots; sequence++)
        {
            history.At(sequence).Update = Update;
        }

        history.ReleaseThrough((2 * ChunkSlots) + 10);

        history.Floor.Should().Be((2 * ChunkSlots) + 10);
        history.Peek(5).IsOrdered.Should().BeTrue();
        history.Peek(5).Update.Should().BeNull("a released slot holds nothing");
        history.Peek((2 * ChunkSlots) + 10).IsOrdered.Should().BeTrue();
        history.Peek((2 * ChunkSlots) + 11).Update.Should().BeSameAs(Update, "the rest of a partly released chunk stays");
        history.Peek(3 * ChunkSlots).Update.Should().BeSameAs(Update);
        Unsafe.IsNullRef(ref history.Existing(ChunkSlots)).Should().BeTrue();
        Unsafe.IsNullRef(ref history.Existing((2 * ChunkSlots) + 11)).Should().BeFalse();
    }

    [Test]
    public void A_reused_chunk_starts_empty()
    {
        var history = new GlobalHistory();
        for (long sequence = 1; sequence < 2 * ChunkSlots; sequence++)
        {
            ref var slot = ref history.At(sequence);
            slot.ProposalView = 3;
            slot.Update = Update;
            slot.Accepts = ulong.MaxValue;
            slot.IsOrdered = true;
        }

        history.ReleaseThrough((2 * ChunkSlots) - 1);
        history.SpareChunkCount.Should().Be(2);

        for (var chunk = 2; chunk < 4; chunk++)
        {
            for (long sequence = chunk * ChunkSlots; sequence < (chunk + 1) * ChunkSlots; sequence += 97)
            {
                history.Peek(sequence).IsEmpty.Should().BeTrue();
                history.At(sequence).IsEmpty.Should().BeTrue($"slot {sequence} lies in a reused chunk and must hold nothing");
            }
        }

        history.SpareChunkCount.Should().Be(0, "both new chunks came from the spares");
    }

    [Test]
    public void Memory_stays_bounded_over_a_long_run()
    {
        var history = new GlobalHistory();
        const long Retained = 10_000;
        for (long sequence = 1; sequence <= 2_000_000; sequence++)
        {
            history.At(sequence).Update = Update;
            if (sequence % 100_000 == 0)
            {
                history.ReleaseThrough(sequence - Retained);
            }
        }

        history.ChunkCount.Should().BeLessThanOrEqualTo((int)((100_000 + Retained) / ChunkSlots) + 2);
        history.SpareChunkCount.Should().BeLessThanOrEqualTo(GlobalHistory.MaxSpareChunks);
        history.Peek(2_000_000).Update.Should().BeSameAs(Update);
    }

    [Test]
    public void A_floor_far_ahead_of_the_history_leaves_it_empty_and_usable()
    {
        var history = new GlobalHistory();
        history.At(3).Update = Update;

        history.ReleaseThrough(1_000_000);

        history.ChunkCount.Should().Be(0);
        history.Peek(1_000_001).IsEmpty.Should().BeTrue();
        history.At(1_000_001).Update = Update;
        history.Peek(1_000_001).Update.Should().BeSameAs(Update);
        history.ChunkCount.Should().Be(1);
    }
}
