/* sample.h - the sample types of a stream's binary frames, as drivers declare them. */
#ifndef LB_SAMPLE_H
#define LB_SAMPLE_H

/* Sample types of the binary frame, and json for messages that carry a data object. */
typedef enum lb_sample_type {
	LB_F32,
	LB_F64,
	LB_I16,
	LB_U16,
	LB_I32,
	LB_U8,
	LB_JSON
} lb_sample_type;

#endif
