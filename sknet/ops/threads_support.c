/* Thread helpers shared by sknet's C ops (sknet/ops/_threads.py): one OpenMP pool
   for the ops and the OpenBLAS they call. Support code, compiled as C++. */
#if defined(_OPENMP) && defined(openblas_set_threads_callback_function)
#define SKNET_OPENMP 1
#include <omp.h>
#include <pthread.h>
extern "C" {
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
typedef void (*sknet_blas_job)(int, void*, int);
typedef void (*sknet_blas_runner)(int, sknet_blas_job, int, size_t, void*, int);
void openblas_set_threads_callback_function(sknet_blas_runner);
}

struct sknet_blas_job_arg { sknet_blas_job job; int i; void* data; int extra; };

static void* sknet_blas_job_thread(void* p) {
    sknet_blas_job_arg* a = (sknet_blas_job_arg*)p;
    a->job(a->i, a->data, a->extra);
    return NULL;
}

/* Runs OpenBLAS's numjobs jobs at once. A level-3 job waits for the others,
   so all must be live together: on OpenMP's threads when OpenMP can give
   that many, else on plain threads made for the call. */
static void sknet_run_blas_jobs(int sync, sknet_blas_job job, int numjobs, size_t size,
                                void* data, int extra) {
    (void)sync;  /* every call is run to completion */
    if (numjobs <= 1) {
        if (numjobs == 1) job(0, data, extra);
        return;
    }
    if (!omp_in_parallel() && !omp_get_dynamic() && omp_get_thread_limit() >= numjobs) {
        #pragma omp parallel for num_threads(numjobs) schedule(static, 1)
        for (int i = 0; i < numjobs; ++i) job(i, (char*)data + i * size, extra);
        return;
    }
    sknet_blas_job_arg* args = (sknet_blas_job_arg*)malloc(sizeof(sknet_blas_job_arg) * numjobs);
    pthread_t* threads = (pthread_t*)malloc(sizeof(pthread_t) * numjobs);
    if (!args || !threads) { fprintf(stderr, "sknet: out of memory for BLAS threads\n"); abort(); }
    for (int i = 0; i < numjobs; ++i) {
        args[i].job = job; args[i].i = i; args[i].data = (char*)data + i * size; args[i].extra = extra;
    }
    for (int i = 1; i < numjobs; ++i)
        if (pthread_create(&threads[i], NULL, sknet_blas_job_thread, &args[i]) != 0) {
            /* the jobs wait for each other: running this one later would hang */
            fprintf(stderr, "sknet: cannot start a BLAS thread\n");
            abort();
        }
    sknet_blas_job_thread(&args[0]);
    for (int i = 1; i < numjobs; ++i) pthread_join(threads[i], NULL);
    free(args); free(threads);
}

/* A forked child has none of OpenMP's threads, and its first parallel region
   would wait for them forever: BLAS and the ops go single-threaded there. */
static void sknet_threads_after_fork(void) {
    openblas_set_threads_callback_function(NULL);
    openblas_set_num_threads(1);
}

static int sknet_threads_ready = 0;

static inline void sknet_threads_init(void) {
    if (!sknet_threads_ready) {
        sknet_threads_ready = 1;
        openblas_set_threads_callback_function(sknet_run_blas_jobs);
        pthread_atfork(NULL, NULL, sknet_threads_after_fork);
    }
}

/* Threads for a loop of n independent parts: OpenBLAS's count, at most n. */
static inline int sknet_threads_for(npy_intp n) {
    sknet_threads_init();
    int t = openblas_get_num_threads();  /* 1 in a forked child: no OpenMP call below */
    if (t <= 1 || omp_in_parallel()) return 1;
    if ((npy_intp)t > n) t = (int)n;
    return t < 1 ? 1 : t;
}

/* While an op's own threads call GEMM, each GEMM runs on its caller's thread. */
static inline int sknet_blas_serial_begin(int nt) {
    if (nt <= 1) return 0;
    int t = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return t;
}

static inline void sknet_blas_serial_end(int t) {
    if (t > 0) openblas_set_num_threads(t);
}
#else
static inline int sknet_threads_for(npy_intp n) { (void)n; return 1; }
static inline int sknet_blas_serial_begin(int nt) { (void)nt; return 0; }
static inline void sknet_blas_serial_end(int t) { (void)t; }
#endif

/* body(i, thread) for i in [0, n), on nt threads (contiguous blocks of i per
   thread) or inline when nt is 1: no OpenMP call at all then, which keeps a
   forked child off OpenMP. */
template <class Body>
static inline void sknet_parallel_for(npy_intp n, int nt, Body body) {
#ifdef SKNET_OPENMP
    if (nt > 1) {
        #pragma omp parallel for num_threads(nt) schedule(static)
        for (npy_intp i = 0; i < n; ++i) body(i, omp_get_thread_num());
        return;
    }
#endif
    for (npy_intp i = 0; i < n; ++i) body(i, 0);
}
