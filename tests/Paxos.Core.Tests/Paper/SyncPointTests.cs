using Paxos.Messages;
using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>
/// PROTOCOL.md §16.1 (TR §4.3 and the <c>**Sync</c> lines): every message that is a promise leaves in a batch whose durable
/// state — that batch's or an earlier one's — holds what the promise is about, and the batch that first makes the
/// promise requires a sync. The OutputBatch contract then guarantees the order "fsync, then send".
/// </summary>
public class SyncPointTests
{
    /// <summary>Checks every recorded promise against the durable state of its batch and the batches before it.</summary>
    private static void AssertPromisesAreDurable(ReplicaFixture fixture)
    {
        var installed = new HashSet<ViewNumber>();
        var accepted = new HashSet<(long View, long Sequence)>();
        var pending = new HashSet<(long Client, long Timestamp)>();
        foreach (var batch in fixture.Batches)
        {
            if (batch.InstalledView is { } view)
            {
                installed.Add(view);
            }

            foreach (var proposal in batch.AcceptedProposals)
            {
                for (var i = 0; i < proposal.Updates.Count; i++)
                {
                    accepted.Add((proposal.View.Value, proposal.FirstSequence.Value + i));
                }
            }

            foreach (var update in batch.PendingUpdates)
            {
                pending.Add((update.ClientId.Value, update.Timestamp));
            }

            foreach (var message in batch.Messages.Select(m => m.Message))
            {
                switch (message)
                {
                    case Prepare prepare:
                        installed.Should().Contain(prepare.View, $"{message} promises the leader installed its view (§16.1 #2)");
                        break;
                    case PrepareOk ok:
                        installed.Should().Contain(ok.View, $"{message} is a promise made after installing (§16.1 #1)");
                        break;
                    case Proposal proposal:
                        for (var s = proposal.FirstSequence.Value; s <= proposal.LastSequence.Value; s++)
                        {
                            accepted.Should().Contain((proposal.View.Value, s), $"{message} is the leader's own acceptance (§16.1 #4)");
                        }

                        break;
                    case Accept accept:
                        for (var s = accept.FirstSequence.Value; s <= accept.LastSequence.Value; s++)
                        {
                            accepted.Should().Contain((accept.View.Value, s), $"{message} promises an accepted Proposal (§16.1 #3)");
                        }

                        break;
                    case ClientUpdateForward forward:
                        foreach (var update in forward.Updates)
                        {
                            pending.Should().Contain((update.ClientId.Value, update.Timestamp), $"{message} needs the origin's responsibility on disk (§16.1 #5)");
                        }

                        break;
                }
            }
        }
    }

    [Test]
    public void Non_leader_promises_leave_only_after_what_they_promise_is_durable()
    {
        // §16.1 #1, #3, #5: Prepare_OK after Last_Installed, Accept after the Proposal, forward after Pending_Updates.
        var fixture = new ReplicaFixture(0);
        fixture.Submit(U(1, 1));

        var install = fixture.Deliver(new Prepare(R(1), V(1), S(0)));
        var accept = fixture.Deliver(Proposal(1, 1, 1, U(7, 1, origin: 1), U(8, 1, origin: 1)));
        var forward = fixture.Submit(U(2, 1)) == SubmitStatus.Accepted ? fixture.LastBatch! : null;
        fixture.Deliver(Proposal(1, 1, 1, U(7, 1, origin: 1), U(8, 1, origin: 1)));

        install.RequiresSync.Should().BeTrue();
        install.Messages.Select(m => m.Message).Should().Contain(m => m is PrepareOk);
        install.Messages.Select(m => m.Message).Should().Contain(m => m is ClientUpdateForward, "pending updates go to the new leader");
        accept.RequiresSync.Should().BeTrue();
        forward!.RequiresSync.Should().BeTrue();
        AssertPromisesAreDurable(fixture);
    }

    [Test]
    public void Leader_promises_leave_only_after_what_they_promise_is_durable()
    {
        // §16.1 #2, #4: the Prepare after Last_Installed, each Proposal after itself (re-proposals and heartbeats included).
        var recovered = new PersistentState { LastInstalled = V(3) };
        var fixture = new ReplicaFixture(1, configure: o => o.LeaderHeartbeatTicks = 5, recovered: recovered);
        fixture.BecomeLeader(V(4), ProposalEntry(2, 3, U(9, 1, origin: 0)));
        fixture.Submit(U(1, 1));
        fixture.Replica.Step(new ClientUpdateForward(R(0), [U(2, 1, origin: 0)]));
        fixture.Flush();
        fixture.Deliver(Accept(0, 4, 1, 4));
        fixture.Tick(12);

        fixture.MessagesOf<Proposal>().Should().HaveCountGreaterThanOrEqualTo(3);
        fixture.Batches.Where(b => b.Messages.Any(m => m.Message is Proposal p && b.AcceptedProposals.Contains(p)))
            .Should().OnlyContain(b => b.RequiresSync);
        AssertPromisesAreDurable(fixture);
    }

    [Test]
    public void A_Proposal_that_is_the_leaders_acceptance_is_not_retransmitted_before_the_leaders_write_is_durable()
    {
        // §16.1 #4 for retransmissions: in the default mode a Proposal counts as the leader's acceptance, so a
        // follower of three orders on it with its own. Its first send waits for the leader's write; a write slower
        // than ProposalRetransmitTicks (a slow fsync, or one queued behind others) must not let a retransmission,
        // which leaves at once, make that promise early.
        var fixture = LeaderOfView1(configure: o => o.ProposalRetransmitTicks = 3);
        fixture.AutoAcknowledge = false;
        fixture.Clear();
        fixture.Replica.Submit(U(1, 1));
        var proposing = fixture.Flush();
        proposing.Messages.Select(m => m.Message).OfType<Proposal>().Should().ContainSingle("the first send waits for the write");

        fixture.Tick(9);

        fixture.Batches.SelectMany(b => b.ImmediateMessages).Select(m => m.Message).OfType<Proposal>()
            .Should().BeEmpty($"batch {proposing.Number}, which holds the leader's acceptance, is not durable yet");

        fixture.AcknowledgeAll(); // Durable now: the Proposal leaves with its batch, and unanswered, is re-sent.
        fixture.Clear();
        fixture.Tick(3);
        fixture.Batches.SelectMany(b => b.ImmediateMessages).Select(m => m.Message).OfType<Proposal>()
            .Should().ContainSingle().Which.FirstSequence.Should().Be(S(1));
    }

    [Test]
    public void Last_Attempted_is_synced_before_a_View_Change_for_a_new_view_and_a_retransmission_needs_none()
    {
        // A View_Change promises nothing, but the view it names is stored as Last_Attempted first (TR Fig. 14 reads
        // it back): a replica that lost its disk learns from those stored values which views it may have promised.
        var fixture = new ReplicaFixture(0, configure: o => o.ViewChangeRetransmitTicks = 3);
        fixture.Batches.Should().ContainSingle().Which.AttemptedView.Should().Be(V(1));
        fixture.Clear();
        fixture.Tick(3);
        fixture.Batches.Should().NotBeEmpty().And.OnlyContain(b => !b.RequiresSync, "a retransmission names a stored view");

        fixture.Clear();
        var batch = fixture.Deliver(new ViewChange(R(2), V(2)));

        batch.AttemptedView.Should().Be(V(2));
        batch.RequiresSync.Should().BeTrue();
        batch.Messages.Select(m => m.Message).OfType<ViewChange>().Should().ContainSingle().Which.Attempted.Should().Be(V(2));
        batch.ImmediateMessages.Should().BeEmpty();
    }
}
