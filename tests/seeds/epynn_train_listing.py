# The EpyNN paper (003_58038c93c1438142.txt), the train.py listing of its last figure, the
# listing's lines 34-60 (its line numbers removed). Lines 1-33, the imports and the data
# (X_features, Y_label from the dummy_boolean workflow), are not printed: the test gives them.
##### BUILD AND TRAIN MODEL #####

embedding = Embedding(X_data=X_features,
                      Y_data=Y_label,
                      relative_size=(2, 1, 0))


### Feed-Forward

# Model
name = 'Perceptron_Dense-1-sigmoid'

dense = Dense()

model = EpyNN(layers=[embedding, dense], name=name)

model.train(epochs=100)

model.plot(path=False)


##### PREDICTION #####
model.write()
# model.write(path=/your/custom/path)

model = read_model()
# model = read_model(path=/your/custom/path)
