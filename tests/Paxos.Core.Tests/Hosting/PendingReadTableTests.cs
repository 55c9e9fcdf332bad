using Paxos.Hosting;

namespace Paxos.Tests.Hosting;

/// <summary>The node's table of reads handed to its replica: a ring by id, with stragglers moved aside.</summary>
public sealed class PendingReadTableTests
{
    private static PendingRead NewRead() => new(new byte[] { 1 });

    [Test]
    public void Ids_are_given_out_one_after_the_other_from_one()
    {
        var table = new PendingReadTable(maxPendingReads: 16);
        Enumerable.Range(0, 5).Select(_ => table.Add(NewRead())).Should().Equal(1, 2, 3, 4, 5);
        table.Count.Should().Be(5);
    }

    [Test]
    public void A_read_is_found_once_by_its_id_in_any_order()
    {
        var table = new PendingReadTable(maxPendingReads: 16);
        var reads = Enumerable.Range(0, 10).Select(_ => NewRead()).ToArray();
        var ids = reads.Select(table.Add).ToArray();

        foreach (var i in new[] { 3, 0, 9, 1, 2, 5, 4, 8, 6, 7 })
        {
            table.Remove(ids[i], out var found).Should().BeTrue();
            ReferenceEquals(found, reads[i]).Should().BeTrue();
            table.Remove(ids[i], out _).Should().BeFalse("it was answered already");
        }

        table.Count.Should().Be(0);
        table.Remove(0, out _).Should().BeFalse("no read has id 0");
        table.Remove(11, out _).Should().BeFalse("id 11 was never given out");
        table.Add(NewRead()).Should().Be(11);
    }

    [Test]
    public void The_ring_grows_past_its_first_size_and_keeps_every_read()
    {
        var table = new PendingReadTable(maxPendingReads: 4096);
        var reads = new Dictionary<long, PendingRead>();
        for (var i = 0; i < 1000; i++)
        {
            var read = NewRead();
            reads.Add(table.Add(read), read);

            // Every third read is answered at once: holes behind the first one.
            if (i % 3 == 1)
            {
                var id = reads.Keys.Max();
                table.Remove(id, out _).Should().BeTrue();
                reads.Remove(id);
            }
        }

        table.Count.Should().Be(reads.Count);
        foreach (var (id, read) in reads)
        {
            table.Remove(id, out var found).Should().BeTrue();
            ReferenceEquals(found, read).Should().BeTrue();
        }

        table.Count.Should().Be(0);
    }

    [Test]
    public void A_read_that_stays_while_the_ring_fills_moves_aside_and_is_still_found()
    {
        // MaxPendingReads 32: the ring spans at most 64 ids. The first read stays while 500 later ones come and go.
        var table = new PendingReadTable(maxPendingReads: 32);
        var straggler = NewRead();
        var stragglerId = table.Add(straggler);
        for (var i = 0; i < 500; i++)
        {
            var id = table.Add(NewRead());
            table.Remove(id, out _).Should().BeTrue();
        }

        table.Count.Should().Be(1);
        table.Remove(stragglerId, out var found).Should().BeTrue();
        ReferenceEquals(found, straggler).Should().BeTrue();
        table.Count.Should().Be(0);
        table.Remove(stragglerId, out _).Should().BeFalse();
    }

    [Test]
    public void Taking_all_empties_the_table_ring_and_stragglers_alike()
    {
        var table = new PendingReadTable(maxPendingReads: 32);
        var kept = new List<PendingRead>();
        for (var i = 0; i < 300; i++)
        {
            var read = NewRead();
            var id = table.Add(read);
            if (i % 50 == 0)
            {
                kept.Add(read); // Stays: some of these end up among the stragglers.
            }
            else
            {
                table.Remove(id, out _).Should().BeTrue();
            }
        }

        var taken = table.TakeAll();
        taken.Should().HaveCount(kept.Count);
        kept.Should().OnlyContain(read => taken.Contains(read)); // By reference: a read does not override Equals.
        table.Count.Should().Be(0);
        table.TakeAll().Should().BeEmpty();
        table.Add(NewRead()).Should().Be(301);
    }
}
