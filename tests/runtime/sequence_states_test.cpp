// The executor's side of the step protocol: tables grow from deltas, histories are kept only with
// penalties and start from the cached tokens, a release forgets (also on a refused delta), and a
// refused delta changes nothing else.
#include "runtime/sequence_states.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace troupe::runtime {
namespace {

sampling_params with_penalties() {
  sampling_params p;
  p.repetition_penalty = 1.2f;
  p.logit_bias = {{3, 1.5f}};
  p.min_tokens_stop_ids = {0};
  return p;
}

std::vector<int32_t> history_of(const seq_step& seq) {
  return {seq.token_history.begin(), seq.token_history.end()};
}

TEST(sequence_states, admission_then_decode_grows_the_table_and_the_history) {
  sequence_states states;
  step_delta first;
  first.admitted = {{7, with_penalties(), 3, 0, {}}};
  first.seqs = {{7, 3, true, {12, 4}}};
  first.token_ids = {1, 2, 3};
  auto batch = states.apply(first);
  ASSERT_TRUE(batch.ok()) << batch.message();
  ASSERT_EQ(batch->seqs.size(), 1u);
  const seq_step& prefill = batch->seqs[0];
  EXPECT_EQ(prefill.start_pos, 0);
  EXPECT_EQ(prefill.num_tokens, 3);
  EXPECT_EQ(prefill.block_table, (std::vector<int32_t>{12, 4}));
  EXPECT_EQ(prefill.output_index, 0);
  EXPECT_EQ(prefill.sampling, with_penalties());
  EXPECT_EQ(history_of(prefill), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(batch->token_ids, first.token_ids);

  step_delta decode;  // the sampled token goes in at position 3, and needs no new block
  decode.seqs = {{7, 1, true, {}}};
  decode.token_ids = {50};
  batch = states.apply(decode);
  ASSERT_TRUE(batch.ok()) << batch.message();
  const seq_step& next = batch->seqs[0];
  EXPECT_EQ(next.start_pos, 3);
  EXPECT_EQ(next.block_table, (std::vector<int32_t>{12, 4}));
  EXPECT_EQ(next.output_index, 1);
  EXPECT_EQ(history_of(next), (std::vector<int32_t>{1, 2, 3, 50}));
  EXPECT_EQ(states.num_sequences(), 1);
}

// A chunk ending in drafts samples from its last known token on; the tokens that come back say
// how many drafts were kept, and the rest leave the computed tokens and the history.
TEST(sequence_states, rejected_drafts_leave_the_computed_tokens_and_the_history) {
  sequence_states states;
  step_delta first;
  first.admitted = {{7, with_penalties(), 3, 0, {}}};
  first.seqs = {{7, 3, true, {12}}};
  first.token_ids = {1, 2, 3};
  ASSERT_TRUE(states.apply(first).ok());
  states.record_sampled(std::vector<sampled_token>{{7, 10, 0.f}});

  step_delta drafted;  // 10, then the drafts 11 and 12
  drafted.seqs = {{7, 3, true, {40}, 2}};
  drafted.token_ids = {10, 11, 12};
  auto batch = states.apply(drafted);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].start_pos, 3);
  EXPECT_EQ(batch->seqs[0].num_draft_tokens, 2);
  EXPECT_EQ(batch->seqs[0].output_index, 1);  // the row after 10 samples output 1
  EXPECT_EQ(history_of(batch->seqs[0]), (std::vector<int32_t>{1, 2, 3, 10, 11, 12}));
  // 11 kept, then 20 instead of 12.
  states.record_sampled(std::vector<sampled_token>{{7, 11, 0.f}, {7, 20, 0.f}});
  EXPECT_EQ(states.find(7)->num_computed_tokens, 5);
  EXPECT_EQ(states.find(7)->token_history, (std::vector<int32_t>{1, 2, 3, 10, 11}));

  step_delta next;
  next.seqs = {{7, 1, true, {}}};
  next.token_ids = {20};
  batch = states.apply(next);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].start_pos, 5);
  EXPECT_EQ(batch->seqs[0].output_index, 3);
  EXPECT_EQ(history_of(batch->seqs[0]), (std::vector<int32_t>{1, 2, 3, 10, 11, 20}));
  EXPECT_EQ(batch->seqs[0].block_table, (std::vector<int32_t>{12, 40}));

  step_delta bad;  // drafts in a chunk that does not sample
  bad.seqs = {{7, 2, false, {}, 1}};
  bad.token_ids = {21, 22};
  EXPECT_FALSE(states.apply(bad).ok());
}

// A pipeline stage before the last samples nothing, so it never learns which drafts were kept:
// the next chunk's start says, and the rank takes the rest back (no more than its last drafts).
TEST(sequence_states, a_chunk_start_takes_back_drafts_a_stage_never_saw_rejected) {
  sequence_states states;
  step_delta first;
  first.admitted = {{7, with_penalties(), 3, 0, {}}};
  first.seqs = {{7, 3, true, {12}, 0, 0}};
  first.token_ids = {1, 2, 3};
  ASSERT_TRUE(states.apply(first).ok());
  states.record_sampled({});  // a stage before the last: no tokens come back

  step_delta drafted;  // 10, then the drafts 11 and 12
  drafted.seqs = {{7, 3, true, {40}, 2, 3}};
  drafted.token_ids = {10, 11, 12};
  ASSERT_TRUE(states.apply(drafted).ok());
  states.record_sampled({});
  EXPECT_EQ(states.find(7)->num_computed_tokens, 6);

  step_delta too_far = drafted;  // would take back 3 tokens, more than the 2 drafts
  too_far.seqs = {{7, 1, true, {}, 0, 3}};
  too_far.token_ids = {20};
  auto refused = states.apply(too_far);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("starts where its tokens do not end"), std::string::npos)
      << refused.message();

  step_delta next;  // 11 kept, 20 sampled instead of 12: the scheduler counts 5 tokens
  next.seqs = {{7, 1, true, {}, 0, 5}};
  next.token_ids = {20};
  auto batch = states.apply(next);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].start_pos, 5);
  EXPECT_EQ(batch->seqs[0].output_index, 3);
  EXPECT_EQ(history_of(batch->seqs[0]), (std::vector<int32_t>{1, 2, 3, 10, 11, 20}));
}

TEST(sequence_states, without_penalties_no_history_is_kept) {
  sequence_states states;
  step_delta delta;
  delta.admitted = {{1, {}, 2, 0, {}}};
  delta.seqs = {{1, 2, true, {0}}};
  delta.token_ids = {5, 6};
  auto batch = states.apply(delta);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_TRUE(batch->seqs[0].token_history.empty());
  EXPECT_TRUE(states.find(1)->token_history.empty());
}

// A prefix-cache hit: the table starts with shared blocks, the first chunk past them, and the
// history (penalties) starts with the cached tokens the executor never saw as input.
TEST(sequence_states, a_cache_hit_starts_past_the_shared_blocks) {
  sequence_states states;
  step_delta delta;
  delta.admitted = {{2, with_penalties(), 9, 8, {1, 2, 3, 4, 5, 6, 7, 8}}};
  delta.seqs = {{2, 1, true, {30, 31, 9}}};
  delta.token_ids = {9};
  auto batch = states.apply(delta);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].start_pos, 8);
  EXPECT_EQ(batch->seqs[0].block_table, (std::vector<int32_t>{30, 31, 9}));
  EXPECT_EQ(batch->seqs[0].output_index, 0);
  EXPECT_EQ(history_of(batch->seqs[0]), (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// Preemption: released with the step that preempts it, readmitted later on a new table.
TEST(sequence_states, a_readmission_after_release_starts_a_new_table) {
  sequence_states states;
  step_delta first;
  first.admitted = {{3, {}, 2, 0, {}}};
  first.seqs = {{3, 2, true, {5}}};
  first.token_ids = {1, 2};
  ASSERT_TRUE(states.apply(first).ok());
  step_delta preempting;
  preempting.released = {3};
  preempting.admitted = {{4, {}, 1, 0, {}}};
  preempting.seqs = {{4, 1, true, {5}}};  // block 5 was 3's
  preempting.token_ids = {9};
  ASSERT_TRUE(states.apply(preempting).ok());
  EXPECT_EQ(states.find(3), nullptr);
  step_delta readmitting;  // 3 recomputes its prompt and its output
  readmitting.released = {4};
  readmitting.admitted = {{3, {}, 2, 0, {}}};
  readmitting.seqs = {{3, 3, true, {8}}};
  readmitting.token_ids = {1, 2, 70};
  auto batch = states.apply(readmitting);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].block_table, std::vector<int32_t>{8});
  EXPECT_EQ(batch->seqs[0].output_index, 1);
  EXPECT_EQ(states.num_sequences(), 1);
}

TEST(sequence_states, release_ignores_sequences_it_does_not_hold) {
  sequence_states states;
  step_delta delta;
  delta.admitted = {{1, {}, 1, 0, {}}, {2, {}, 1, 0, {}}};
  delta.seqs = {{1, 1, true, {0}}, {2, 1, true, {1}}};
  delta.token_ids = {4, 4};
  ASSERT_TRUE(states.apply(delta).ok());
  const std::vector<uint64_t> ids{2, 99};
  states.release(ids);
  EXPECT_EQ(states.num_sequences(), 1);
  EXPECT_NE(states.find(1), nullptr);
}

// Each bad delta is refused whole (but its release is applied): the state held is unchanged.
TEST(sequence_states, a_refused_delta_changes_nothing_but_the_release) {
  auto held = [] {
    sequence_states states;
    step_delta delta;
    delta.admitted = {{1, {}, 2, 0, {}}, {2, {}, 1, 0, {}}};
    delta.seqs = {{1, 2, true, {0}}, {2, 1, true, {1}}};
    delta.token_ids = {4, 5, 6};
    EXPECT_TRUE(states.apply(delta).ok());
    return states;
  };
  std::vector<step_delta> bad(7);
  bad[0].seqs = {{5, 1, true, {}}};  // not running
  bad[0].token_ids = {1};
  bad[1].admitted = {{1, {}, 1, 0, {}}};  // admitted while it runs
  bad[1].seqs = {{1, 1, true, {}}};
  bad[1].token_ids = {1};
  bad[2].admitted = {{3, {}, 1, 0, {}}};               // admitted, not scheduled
  bad[3].seqs = {{1, 1, true, {}}, {1, 1, true, {}}};  // twice
  bad[3].token_ids = {1, 1};
  bad[4].seqs = {{1, 1, true, {}}};  // token count
  bad[4].token_ids = {1, 2};
  bad[5].admitted = {{3, with_penalties(), 4, 2, {1}}};  // one cached token for two
  bad[5].seqs = {{3, 2, true, {7}}};
  bad[5].token_ids = {3, 4};
  bad[6].admitted = {{3, {}, 4, 0, {}}};  // samples inside its prompt
  bad[6].seqs = {{3, 2, true, {7}}};
  bad[6].token_ids = {3, 4};
  for (size_t i = 0; i < bad.size(); ++i) {
    auto states = held();
    bad[i].released = {2};
    EXPECT_FALSE(states.apply(bad[i]).ok()) << "delta " << i;
    EXPECT_EQ(states.num_sequences(), 1) << "delta " << i;
    ASSERT_NE(states.find(1), nullptr);
    EXPECT_EQ(states.find(1)->num_computed_tokens, 2) << "delta " << i;
    EXPECT_EQ(states.find(1)->block_table, std::vector<int32_t>{0}) << "delta " << i;
  }
}

// A sequence with a grammar: its matcher is fed the outputs (prompt tokens never), replayed
// from the history after a re-admission; without a vocabulary it cannot run.
TEST(sequence_states, a_grammar_sequence_carries_a_matcher_fed_its_outputs) {
  // Token 0 ends generation; 1 = "a", 2 = "b", 3 = "c".
  auto vocabulary = std::make_shared<grammar::token_vocabulary>(
      std::vector<std::string>{"", "a", "b", "c"}, std::vector<char>{}, std::vector<int32_t>{0});
  sampling_params p;
  p.grammar = R"(root ::= "ab" "c"?)";
  sequence_states states(vocabulary);
  step_delta first;
  first.admitted = {{4, p, 2, 0, {}}};
  first.seqs = {{4, 2, true, {1}}};
  first.token_ids = {3, 3};  // a prompt the grammar would refuse: never fed
  auto batch = states.apply(first);
  ASSERT_TRUE(batch.ok()) << batch.message();
  grammar::token_matcher* m = batch->seqs[0].grammar;
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->num_accepted(), 0);
  EXPECT_TRUE(grammar::test_bit(m->allowed(), 1));
  EXPECT_FALSE(grammar::test_bit(m->allowed(), 2));
  step_delta decode;
  decode.seqs = {{4, 1, true, {}}};
  decode.token_ids = {1};
  batch = states.apply(decode);
  ASSERT_TRUE(batch.ok()) << batch.message();
  m = batch->seqs[0].grammar;
  EXPECT_EQ(m->num_accepted(), 1);
  EXPECT_TRUE(grammar::test_bit(m->allowed(), 2));
  EXPECT_FALSE(grammar::test_bit(m->allowed(), 1));

  // Preempted and admitted again with its output as a cached token: replayed.
  step_delta again;
  again.released = {4};
  again.admitted = {{4, p, 2, 3, {3, 3, 1}}};
  again.seqs = {{4, 1, true, {1}}};
  again.token_ids = {2};
  batch = states.apply(again);
  ASSERT_TRUE(batch.ok()) << batch.message();
  m = batch->seqs[0].grammar;
  EXPECT_EQ(m->num_accepted(), 2);
  EXPECT_TRUE(m->can_end());
  EXPECT_TRUE(grammar::test_bit(m->allowed(), 0));
  EXPECT_TRUE(grammar::test_bit(m->allowed(), 3));

  sequence_states without;
  EXPECT_FALSE(without.apply(first).ok());
}

// grammar_after_token (a reasoning parser's end of reasoning): the outputs up to and including
// that token are free; the grammar holds the ones after it, also after a re-admission.
TEST(sequence_states, a_grammar_after_a_token_holds_only_the_outputs_after_it) {
  // Token 0 ends generation; 1 = "a", 2 = "b", 3 = "c", 4 = "</think>".
  auto vocabulary = std::make_shared<grammar::token_vocabulary>(
      std::vector<std::string>{"", "a", "b", "c", "</think>"}, std::vector<char>{},
      std::vector<int32_t>{0});
  sampling_params p;
  p.grammar = R"(root ::= "ab")";
  p.grammar_after_token = 4;
  sequence_states states(vocabulary);
  step_delta first;
  first.admitted = {{5, p, 1, 0, {}}};
  first.seqs = {{5, 1, true, {1}}};
  first.token_ids = {4};  // in the prompt: does not count
  auto batch = states.apply(first);
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->seqs[0].grammar, nullptr);
  const std::vector<int32_t> outputs = {3, 2, 4, 1};  // "cb" reasoning, </think>, then "a"
  for (size_t i = 0; i < outputs.size(); ++i) {
    step_delta decode;
    decode.seqs = {{5, 1, true, {}}};
    decode.token_ids = {outputs[i]};
    batch = states.apply(decode);
    ASSERT_TRUE(batch.ok()) << batch.message();
    grammar::token_matcher* m = batch->seqs[0].grammar;
    if (i < 2) {
      EXPECT_EQ(m, nullptr) << "output " << i;
      continue;
    }
    ASSERT_NE(m, nullptr) << "output " << i;
    EXPECT_EQ(m->num_accepted(), static_cast<int32_t>(i) - 2);
    EXPECT_EQ(grammar::test_bit(m->allowed(), 1), i == 2);
    EXPECT_EQ(grammar::test_bit(m->allowed(), 2), i == 3);
  }

  // Admitted again with its outputs cached: the grammar resumes after the </think>.
  step_delta again;
  again.released = {5};
  again.admitted = {{5, p, 1, 4, {4, 3, 2, 4}}};
  again.seqs = {{5, 1, true, {1}}};
  again.token_ids = {1};
  batch = states.apply(again);
  ASSERT_TRUE(batch.ok()) << batch.message();
  grammar::token_matcher* m = batch->seqs[0].grammar;
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->num_accepted(), 1);
  EXPECT_TRUE(grammar::test_bit(m->allowed(), 2));
}

}  // namespace
}  // namespace troupe::runtime
