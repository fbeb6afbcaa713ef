/* Hand-written tables of a fake model for the generic wrapper's unit test
 * (WrapperTest.cpp): input [N, 2], logits [N, 3], a trainable weight "w"
 * [3, 2] and a buffer "m" [3] that the training step updates. The forward
 * pass is lowered in two segments (an intermediate [N, 3] between them);
 * the pipelines are the test's (fake_pipelines.c). */
static const char *const kName = "fake";
static const char *const kRecipe = "{\"batch_size\": 4}";
static const char *const kLibraryInfo = "{\"device\": \"cpu\"}";
static const int64_t kInputDims[] = {-1, 2};
static const int64_t kOutputDims[] = {-1, 3};
static const int32_t kInputRank = 2, kOutputRank = 2;
#define NUM_PARAMS 2
#define MIN_TRAIN_BATCH 2
#define MIN_FORWARD_BATCH 1
static const char *const kParamNames[NUM_PARAMS + 1] = {"w", "m", 0};
static const int32_t kParamRanks[NUM_PARAMS + 1] = {2, 1, 0};
static const int32_t kParamTrainable[NUM_PARAMS + 1] = {1, 0, 0};
static const int32_t kParamKind[NUM_PARAMS + 1] = {CNNC_KIND_PARAMETER,
                                                   CNNC_KIND_BUFFER, 0};
static const int32_t kParamUpdated[NUM_PARAMS + 1] = {1, 1, 0};
static const int64_t kParamDims[NUM_PARAMS + 1][CNNC_MAX_RANK] = {
    {3, 2}, {3}, {0}};

int fake_forward_s0_argv(void **args);
int fake_forward_s1_argv(void **args);
int fake_train_argv(void **args);
int fake_forward_argv(void **args);
static int (*const kForwardPipeline)(void **) = fake_forward_argv;
static int (*const kSmallForwardPipeline)(void **) = NULL;
static const int64_t kSmallBatchBelow = 0;
static int (*const kTrainPipeline)(void **) = fake_train_argv;
#define NUM_FORWARD_SLOTS 4
static const cnnc_slot kForwardSlots[NUM_FORWARD_SLOTS + 1] = {
    {CNNC_SLOT_INPUT, -1},
    {CNNC_SLOT_PARAMETER, 0},
    {CNNC_SLOT_PARAMETER, 1},
    {CNNC_SLOT_LOGITS, -1},
    {0, 0}};
#define NUM_TRAIN_SLOTS 14
static const cnnc_slot kTrainSlots[NUM_TRAIN_SLOTS + 1] = {
    {CNNC_SLOT_INPUT, -1},
    {CNNC_SLOT_LABELS, -1},
    {CNNC_SLOT_PARAMETER, 0},
    {CNNC_SLOT_PARAMETER, 1},
    {CNNC_SLOT_MOMENTUM, 0},
    {CNNC_SLOT_LEARNING_RATE, -1},
    {CNNC_SLOT_MOMENTUM_FACTOR, -1},
    {CNNC_SLOT_WEIGHT_DECAY, -1},
    {CNNC_SLOT_NESTEROV, -1},
    {CNNC_SLOT_FIRST_STEP, -1},
    {CNNC_SLOT_LOSS, -1},
    {CNNC_SLOT_NEW_PARAMETER, 0},
    {CNNC_SLOT_NEW_MOMENTUM, 0},
    {CNNC_SLOT_NEW_BUFFER, 1},
    {0, 0}};

/* The forward pass in two segments: s0 reads the input and w and writes
   intermediate 0; s1 reads it and m and writes the logits (output 0). */
static const int fake_forward_s0_reads[] = {0};
static const int fake_forward_s0_writes[] = {-1};
static const int fake_forward_s1_reads[] = {0};
static const int fake_forward_s1_writes[] = {0};
static const cnnc_segment fake_forward_segments[] = {
    {fake_forward_s0_argv, 0, fake_forward_s0_reads, 1, fake_forward_s0_writes},
    {fake_forward_s1_argv, 1, fake_forward_s1_reads, 1,
     fake_forward_s1_writes}};
static const int64_t fake_forward_dims[2][4] = {{-1, 3}, {0}};
static const int fake_forward_ranks[2] = {2, 0};
static const cnnc_segmented_pipeline fake_forward_pipeline = {
    3, 1, 2, fake_forward_segments, 1, fake_forward_dims, fake_forward_ranks};
int fake_forward_argv(void **args) {
  return cnnc_run_segments(&fake_forward_pipeline, args);
}
